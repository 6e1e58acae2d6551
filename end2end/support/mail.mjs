// Reading the messages the SMTP sink (tests/support/smtp_sink.py) wrote: DIR/NNNNNN.eml,
// raw RFC 822 with a first line "X-Envelope-To: addr".

import fs from 'node:fs';
import path from 'node:path';

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** Decode a quoted-printable body (soft line breaks "=\r\n", escapes like "=3D") as UTF-8. */
export function decodeQuotedPrintable(text) {
  const joined = text.replace(/=\r?\n/g, '');
  const bytes = [];
  for (let i = 0; i < joined.length; i++) {
    const c = joined[i];
    if (c === '=' && /^[0-9A-Fa-f]{2}$/.test(joined.slice(i + 1, i + 3))) {
      bytes.push(parseInt(joined.slice(i + 1, i + 3), 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(c, 'utf8'));
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Decode RFC 2047 encoded words in a header value (=?utf-8?B?...?= / =?utf-8?Q?...?=). */
export function decodeHeaderValue(value) {
  return value
    .replace(/\?=\s+=\?/g, '?==?') // whitespace between adjacent encoded words is dropped
    .replace(/=\?([^?]+)\?([BbQq])\?([^?]*)\?=/g, (_, _charset, enc, data) => {
      if (enc.toUpperCase() === 'B') return Buffer.from(data, 'base64').toString('utf8');
      return decodeQuotedPrintable(data.replace(/_/g, ' '));
    });
}

/** Split a header block into a Map of lower-cased name -> array of unfolded values. */
function parseHeaders(block) {
  const headers = new Map();
  const unfolded = block.replace(/\r?\n[ \t]+/g, ' ');
  for (const line of unfolded.split(/\r?\n/)) {
    const m = /^([^:\s]+):\s*(.*)$/.exec(line);
    if (!m) continue;
    const name = m[1].toLowerCase();
    if (!headers.has(name)) headers.set(name, []);
    headers.get(name).push(m[2].trim());
  }
  return headers;
}

function splitHeadersBody(raw) {
  const m = /\r?\n\r?\n/.exec(raw);
  if (!m) return { head: raw, body: '' };
  return { head: raw.slice(0, m.index), body: raw.slice(m.index + m[0].length) };
}

function header(headers, name) {
  return headers.get(name)?.[0] ?? '';
}

/** Decode one MIME entity (headers + body) into the text of its text/* parts. */
function decodeEntity(raw) {
  const { head, body } = splitHeadersBody(raw);
  const headers = parseHeaders(head);
  const contentType = header(headers, 'content-type') || 'text/plain';
  const boundary = /boundary="?([^";]+)"?/i.exec(contentType)?.[1];
  if (/^multipart\//i.test(contentType) && boundary) {
    const parts = body.split(new RegExp(`--${boundary.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}(?:--)?`));
    return parts.slice(1)
      .map((p) => p.replace(/^\r?\n/, ''))
      .filter((p) => p.trim() !== '')
      .map(decodeEntity)
      .filter((t) => t !== '')
      .join('\n');
  }
  if (!/^text\//i.test(contentType)) return '';
  const encoding = header(headers, 'content-transfer-encoding').toLowerCase();
  if (encoding === 'quoted-printable') return decodeQuotedPrintable(body);
  if (encoding === 'base64') return Buffer.from(body.replace(/\s+/g, ''), 'base64').toString('utf8');
  return body;
}

/** Parse one .eml file written by the sink. */
export function parseMessage(file) {
  const raw = fs.readFileSync(file, 'utf8');
  const { head } = splitHeadersBody(raw);
  const headers = parseHeaders(head);
  return {
    file,
    raw,
    headers,
    envelopeTo: header(headers, 'x-envelope-to'),
    to: decodeHeaderValue(header(headers, 'to')),
    subject: decodeHeaderValue(header(headers, 'subject')),
    body: decodeEntity(raw),
  };
}

/** All messages in the folder, oldest first. */
export function listMessages(dir) {
  return fs.readdirSync(dir)
    .filter((f) => /^\d+\.eml$/.test(f))
    .sort()
    .map((f) => parseMessage(path.join(dir, f)));
}

function addressedTo(msg, address) {
  const want = address.toLowerCase();
  const envelope = msg.envelopeTo.toLowerCase().split(/\s*,\s*/);
  return envelope.includes(want) || msg.to.toLowerCase().includes(want);
}

/**
 * Poll `dir` until a message to `toAddress` whose subject contains `subjectContains` arrives.
 * Returns { file, subject, to, envelopeTo, body (decoded text), raw, headers }.
 * `skip` counts matching messages to pass over (e.g. 1 to wait for the second such mail).
 */
export async function waitForMail(dir, toAddress, subjectContains, timeoutMs = 15_000, { skip = 0 } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const matches = listMessages(dir).filter(
      (m) => addressedTo(m, toAddress) && m.subject.includes(subjectContains));
    if (matches.length > skip) return matches[skip];
    if (Date.now() > deadline) {
      const seen = listMessages(dir).map((m) => `  ${path.basename(m.file)} to=${m.envelopeTo} subject=${JSON.stringify(m.subject)}`);
      throw new Error(`no mail to ${toAddress} with subject containing ${JSON.stringify(subjectContains)} ` +
        `within ${timeoutMs} ms; mail folder ${dir} holds:\n${seen.join('\n') || '  (nothing)'}`);
    }
    await sleep(150);
  }
}

function decodeEntities(s) {
  return s.replace(/&amp;/g, '&').replace(/&#x3[dD];/g, '=').replace(/&#61;/g, '=');
}

/**
 * The first URL in `body` that starts with `pathPrefix`. `pathPrefix` is either a full URL prefix
 * (e.g. `${baseUrl}/verify-email?token=`) or a path (e.g. `/verify-email?token=`); with a path, give
 * `publicUrl` to require the server's public URL, otherwise any http(s) origin is accepted.
 * Returns null when there is none.
 */
export function extractLink(body, pathPrefix, publicUrl) {
  const prefix = /^https?:\/\//.test(pathPrefix) ? pathPrefix
    : publicUrl ? publicUrl.replace(/\/$/, '') + pathPrefix : null;
  for (const m of body.matchAll(/https?:\/\/[^\s"'<>]+/g)) {
    const url = decodeEntities(m[0]).replace(/[).,;]+$/, '');
    if (prefix) {
      if (url.startsWith(prefix)) return url;
    } else {
      const u = new URL(url);
      if ((u.pathname + u.search).startsWith(pathPrefix)) return url;
    }
  }
  return null;
}
