import type { AddressInfo } from 'node:net';
import { type ParsedMail, simpleParser } from 'mailparser';
import { SMTPServer } from 'smtp-server';

/** A message as the test SMTP server received it: its envelope and the parsed message. */
export interface ReceivedMail {
  /** `RCPT TO` addresses. */
  to: string[];
  parsed: ParsedMail;
}

/** A real SMTP server (the `smtp-server` package) on 127.0.0.1, for tests of what Flux sends. */
export interface TestSmtpServer {
  port: number;
  /** `mail.url` for Flux: plain SMTP to this server. */
  url: string;
  /** Every message accepted so far, in order. */
  received: ReceivedMail[];
  /** Refuses the next `count` messages with `451` (a temporary failure: the sender retries). */
  refuseNext(count: number): void;
  /** How many messages were refused so far. */
  refused(): number;
  /** Resolves when `predicate` holds of the messages received, polling; rejects after `timeoutMs`. */
  waitFor(predicate: (received: ReceivedMail[]) => boolean, timeoutMs?: number): Promise<ReceivedMail[]>;
  close(): Promise<void>;
}

/**
 * Starts an SMTP server without TLS or authentication (neither is advertised: nodemailer sends in plain
 * text) that parses every message with `mailparser` and keeps it.
 */
export async function startSmtpServer(): Promise<TestSmtpServer> {
  const received: ReceivedMail[] = [];
  let toRefuse = 0;
  let refusedCount = 0;
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      simpleParser(stream)
        .then((parsed) => {
          if (toRefuse > 0) {
            toRefuse--;
            refusedCount++;
            const refusal = new Error('Try again later') as Error & { responseCode: number };
            refusal.responseCode = 451;
            callback(refusal);
            return;
          }
          received.push({ to: session.envelope.rcptTo.map((rcpt) => rcpt.address), parsed });
          callback();
        })
        .catch((err: Error) => callback(err));
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const port = (server.server.address() as AddressInfo).port;
  return {
    port,
    url: `smtp://127.0.0.1:${port}`,
    received,
    refuseNext(count) {
      toRefuse = count;
    },
    refused: () => refusedCount,
    async waitFor(predicate, timeoutMs = 15_000) {
      const until = Date.now() + timeoutMs;
      while (!predicate(received)) {
        if (Date.now() > until)
          throw new Error(`Timed out waiting for mail; received: ${received.map(describe).join('; ')}`);
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
      return received;
    },
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

function describe(mail: ReceivedMail): string {
  return `${mail.to.join(',')}: ${mail.parsed.subject ?? ''}`;
}

/** The messages received for `address`. */
export function mailsTo(received: ReceivedMail[], address: string): ReceivedMail[] {
  return received.filter((mail) => mail.to.includes(address));
}
