/**
 * Answers a DNS query the way Docker's embedded DNS answers for a compose network: a service name
 * resolves to the IPv4 address of every running replica (one A record each, TTL 600), has no
 * AAAA records (NOERROR, no answer), and any other name is NXDOMAIN, as is a service with no
 * replica running. Only what a resolver such as HAProxy's asks is understood: one question, class
 * IN; anything else is refused (NOTIMP), an unreadable message is dropped.
 */

/** Service name (lower case) → the addresses it resolves to. */
export type DnsRecords = Record<string, string[]>;

const TYPE_A = 1;
const TYPE_AAAA = 28;
const CLASS_IN = 1;
const RCODE = { noError: 0, nxDomain: 3, notImplemented: 4 } as const;
/** Docker's embedded DNS answers with this TTL. */
const TTL_SECONDS = 600;

interface Question {
  name: string;
  type: number;
  klass: number;
  /** The question section as it came, repeated in the answer. */
  raw: Buffer;
}

function readQuestion(query: Buffer): Question | undefined {
  const labels: string[] = [];
  let offset = 12;
  for (;;) {
    const length = query[offset];
    if (length === undefined || length > 63) return undefined; // truncated, or a compression pointer
    offset++;
    if (length === 0) break;
    labels.push(query.toString('latin1', offset, offset + length));
    offset += length;
  }
  if (offset + 4 > query.length) return undefined;
  return {
    name: labels.join('.').toLowerCase(),
    type: query.readUInt16BE(offset),
    klass: query.readUInt16BE(offset + 2),
    raw: query.subarray(12, offset + 4),
  };
}

function aRecord(address: string): Buffer {
  const record = Buffer.alloc(16);
  record.writeUInt16BE(0xc00c, 0); // the name: a pointer to the question's, right after the header
  record.writeUInt16BE(TYPE_A, 2);
  record.writeUInt16BE(CLASS_IN, 4);
  record.writeUInt32BE(TTL_SECONDS, 6);
  record.writeUInt16BE(4, 10);
  address.split('.').forEach((octet, i) => {
    record.writeUInt8(Number(octet), 12 + i);
  });
  return record;
}

/** The reply to `query`, or undefined when it is not a DNS query at all. */
export function answerDnsQuery(query: Buffer, records: DnsRecords): Buffer | undefined {
  if (query.length < 12) return undefined;
  const flags = query.readUInt16BE(2);
  const isResponse = (flags & 0x8000) !== 0;
  const opcode = (flags >> 11) & 0xf;
  const questions = query.readUInt16BE(4);
  const question = questions === 1 ? readQuestion(query) : undefined;
  if (isResponse) return undefined;

  let rcode: number = RCODE.notImplemented;
  let answers: Buffer[] = [];
  if (opcode === 0 && question && question.klass === CLASS_IN) {
    const addresses = records[question.name] ?? [];
    rcode = addresses.length > 0 ? RCODE.noError : RCODE.nxDomain;
    if (question.type === TYPE_A) answers = addresses.map(aRecord);
    else if (question.type !== TYPE_AAAA) rcode = RCODE.notImplemented;
  }

  const header = Buffer.alloc(12);
  header.writeUInt16BE(query.readUInt16BE(0), 0); // the query's id
  // QR, the query's opcode, AA, the query's RD, RA, the result code.
  header.writeUInt16BE(0x8000 | (opcode << 11) | 0x0400 | (flags & 0x0100) | 0x0080 | rcode, 2);
  header.writeUInt16BE(question ? 1 : 0, 4);
  header.writeUInt16BE(answers.length, 6);
  return Buffer.concat([header, question?.raw ?? Buffer.alloc(0), ...answers]);
}
