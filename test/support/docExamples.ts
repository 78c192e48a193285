/**
 * The curl examples of the README and docs/, read as what they are: a session a new user types
 * against a fresh service, each command followed by the reply the docs promise.
 *
 * In a ```sh block, a command starts with `curl` (a quoted body may span lines); the `#` lines
 * right after it (no blank line between) are its documented reply: headers first when it asks for
 * them (`-i`), then the body, or the stream's lines (`-N`). A `#` line before a command only
 * describes it. In a documented reply, `…` stands for anything, `processed_at` and
 * `uptime_seconds` for any value, and a remark after three spaces, `   (…)`, is prose.
 */

export interface DocExample {
  /** Where it is, for messages: `README.md:61`. */
  where: string;
  /** The command as written, continuation lines joined by newlines. */
  command: string;
  /** The documented reply, one entry per `#` line, the `# ` removed. */
  reply: string[];
}

/** Every curl example of a markdown text, in order. */
export function docExamples(markdown: string, file: string): DocExample[] {
  const examples: DocExample[] = [];
  const lines = markdown.split('\n');
  let inShell = false;
  let command: { start: number; lines: string[] } | undefined;
  let current: DocExample | undefined;
  lines.forEach((line, i) => {
    if (/^```/.test(line)) {
      inShell = !inShell && /^```(sh|bash|shell)\b/.test(line);
      current = undefined;
      return;
    }
    if (!inShell) return;
    if (command) {
      command.lines.push(line);
    } else if (/^curl\s/.test(line)) {
      command = { start: i + 1, lines: [line] };
    } else if (current && line.startsWith('#')) {
      current.reply.push(line.replace(/^# ?/, ''));
      return;
    } else {
      current = undefined;
      return;
    }
    const text = command.lines.join('\n');
    if ((text.match(/'/g)?.length ?? 0) % 2 === 0 && !text.endsWith('\\')) {
      current = { where: `${file}:${command.start}`, command: text, reply: [] };
      examples.push(current);
      command = undefined;
    }
  });
  return examples;
}

/** A curl command line, as the words the shell would pass (single and double quotes, `\` newlines). */
export function shellWords(command: string): string[] {
  const words: string[] = [];
  let word: string | undefined;
  for (let i = 0; i < command.length; i++) {
    const c = command[i] as string;
    if (c === "'") {
      const end = command.indexOf("'", i + 1);
      word = (word ?? '') + command.slice(i + 1, end);
      i = end;
    } else if (c === '"') {
      let text = '';
      for (i++; command[i] !== '"'; i++) text += command[i] === '\\' ? command[++i] : command[i];
      word = (word ?? '') + text;
    } else if (c === '\\' && command[i + 1] === '\n') {
      i++;
    } else if (/\s/.test(c)) {
      if (word !== undefined) words.push(word);
      word = undefined;
    } else {
      word = (word ?? '') + c;
    }
  }
  if (word !== undefined) words.push(word);
  return words;
}

/** What a curl command asks for. */
export interface CurlRequest {
  method: string;
  /** Path and query, as curl would send them. */
  path: string;
  headers: Record<string, string>;
  body?: string;
  /** `-i`: the reply's headers are part of what is shown. */
  showHeaders: boolean;
  /** `-N`: a stream, read line by line. */
  stream: boolean;
}

/** The request a curl example makes (the options the docs use: -s -i -N -G -H -d --data-urlencode -X). */
export function curlRequest(command: string): CurlRequest {
  const words = shellWords(command).slice(1);
  const headers: Record<string, string> = {};
  const data: string[] = [];
  const encoded: string[] = [];
  let url = '';
  let flags = '';
  let method: string | undefined;
  for (let i = 0; i < words.length; i++) {
    const word = words[i] as string;
    const next = () => words[++i] ?? '';
    if (word === '-H') {
      const header = next();
      const colon = header.indexOf(':');
      headers[header.slice(0, colon).trim().toLowerCase()] = header.slice(colon + 1).trim();
    } else if (word === '-d' || word === '--data') data.push(next());
    else if (word === '--data-urlencode') {
      const [name = '', ...value] = next().split('=');
      encoded.push(`${name}=${encodeURIComponent(value.join('='))}`);
    } else if (word === '-X') method = next();
    else if (/^-[a-zA-Z]+$/.test(word)) flags += word.slice(1);
    else if (word.startsWith('-')) throw new Error(`curl option ${word} is not understood by the docs test`);
    else url = word;
  }
  const get = flags.includes('G');
  const query = [...(get ? data : []), ...encoded].join('&');
  const path = url.replace(/^(https?:\/\/)?[^/]+/, '') + (query ? (url.includes('?') ? '&' : '?') + query : '');
  const body = !get && data.length > 0 ? data.join('&') : undefined;
  return {
    method: method ?? (body === undefined ? 'GET' : 'POST'),
    path,
    headers,
    body,
    showHeaders: flags.includes('i'),
    stream: flags.includes('N'),
  };
}

const VOLATILE = /("processed_at":)"[^"]*"|("uptime_seconds":)\d+/g;

/** A documented line or body as a pattern: `…` is anything, volatile fields any value. */
export function replyPattern(documented: string): RegExp {
  const literal = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&').replace(/…/g, '.*?');
  let source = '';
  let last = 0;
  for (const m of documented.matchAll(VOLATILE)) {
    source += literal(documented.slice(last, m.index));
    source += m[1] ? `${literal(m[1])}"[^"]*"` : `${literal(m[2] ?? '')}\\d+`;
    last = (m.index ?? 0) + m[0].length;
  }
  return new RegExp(`^${source}${literal(documented.slice(last))}$`, 's');
}

/**
 * The documented body as one text: lines that a JSON value continues after `,`, `[` or `{` are
 * joined as they are, others (a string wrapped at a space) with a space; a remark after three
 * spaces is dropped.
 */
export function documentedBody(lines: readonly string[]): string {
  let text = '';
  for (const raw of lines) {
    const line = raw.trim();
    text += text === '' || /[,[{]$/.test(text) ? line : ` ${line}`;
  }
  return text.replace(/ {3}\(.*\)$/, '');
}
