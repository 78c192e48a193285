import { describeStoreContract, SQLITE_ADAPTER } from './support/storeContract.js';

// In the unit tier too (.mocharc.unit.json): SQLite needs no server.
describeStoreContract(SQLITE_ADAPTER);
