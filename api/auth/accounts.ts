import { readFile } from 'node:fs/promises';
import { ConfigError } from '../../common/errors.js';
import { hashPassword, verifyPassword } from './password-hash.js';

/** The embedded default's only account, named in the README and the start-up log. */
export const DEMO_ACCOUNT = { user: 'demo', password: 'demo' } as const;

export interface Account {
  user: string;
  passwordHash: string;
}

/**
 * Basic-auth accounts. From ACCOUNTS_FILE (`{"users": [{"name", "password_hash"}]}`, hashes
 * only), or ACCOUNTS (`user:password,…`, hashed at start-up and kept only in memory).
 */
export class Accounts {
  private constructor(private readonly byUser: Map<string, Account>) {}

  static async fromConfig(options: { accountsFile: string | null; accounts: string | null; allowDemo: boolean }): Promise<Accounts> {
    const byUser = new Map<string, Account>();
    if (options.accountsFile) {
      let parsed: { users?: { name?: unknown; password_hash?: unknown }[] };
      try {
        parsed = JSON.parse(await readFile(options.accountsFile, 'utf8')) as typeof parsed;
      } catch (error) {
        throw new ConfigError('ACCOUNTS_FILE', `cannot read ${options.accountsFile}: ${(error as Error).message}`);
      }
      for (const user of parsed.users ?? []) {
        if (typeof user.name !== 'string' || typeof user.password_hash !== 'string' || !user.password_hash.startsWith('scrypt$')) {
          throw new ConfigError('ACCOUNTS_FILE', 'each user needs "name" and an scrypt "password_hash" (create one with `node dist/main.js hash-password`)');
        }
        byUser.set(user.name, { user: user.name, passwordHash: user.password_hash });
      }
    }
    if (options.accounts) {
      for (const pair of options.accounts.split(',')) {
        const colon = pair.indexOf(':');
        if (colon <= 0) throw new ConfigError('ACCOUNTS', 'expected user:password pairs separated by commas');
        const user = pair.slice(0, colon).trim();
        byUser.set(user, { user, passwordHash: await hashPassword(pair.slice(colon + 1)) });
      }
    }
    if (byUser.size === 0) {
      if (!options.allowDemo) throw new ConfigError('ACCOUNTS', 'no accounts configured: set ACCOUNTS_FILE or ACCOUNTS');
      byUser.set(DEMO_ACCOUNT.user, { user: DEMO_ACCOUNT.user, passwordHash: await hashPassword(DEMO_ACCOUNT.password) });
    }
    return new Accounts(byUser);
  }

  /** The user name if the credentials are right; runs the hash even for unknown users (no timing oracle). */
  async authenticate(user: string, password: string): Promise<string | null> {
    const account = this.byUser.get(user);
    const ok = await verifyPassword(password, account?.passwordHash ?? DUMMY_HASH);
    return account && ok ? account.user : null;
  }

  get users(): string[] {
    return [...this.byUser.keys()];
  }
}

const DUMMY_HASH = 'scrypt$131072$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA';
