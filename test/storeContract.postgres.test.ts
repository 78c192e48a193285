import { describeStoreContract, POSTGRES_ADAPTER } from './support/storeContract.js';

describeStoreContract(POSTGRES_ADAPTER);
