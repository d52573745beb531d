/** Longest log message kept (characters): a problem in a sentence or two, never a dump. */
export const MAX_LOG_MESSAGE_LENGTH = 500;

/**
 * One concise line for the job log: the first line of a message, without stack frames or
 * `Error:` prefixes, with paths shown relative to `dataDir`, cut at MAX_LOG_MESSAGE_LENGTH. Users
 * see what went wrong, not where in the code or on the server's disks it did (operators find
 * that in the process logs).
 */
export function conciseMessage(text: string, dataDir?: string): string {
  if (dataDir) text = text.split(`${dataDir.replace(/\/$/, '')}/`).join('');
  const line =
    text
      .split('\n')
      .map((l) => l.trim())
      .find((l) => l !== '' && !/^at\s/.test(l)) ?? '';
  const message = line.replace(/^(\w*Error:\s*)+/, '');
  return message.length > MAX_LOG_MESSAGE_LENGTH ? `${message.slice(0, MAX_LOG_MESSAGE_LENGTH - 1)}…` : message || 'no details were given';
}
