import type { Context, Next } from 'koa';
import { OpenEOError } from '../../common/errors.js';
import type { TokenSigner } from '../auth/tokens.js';

/** openEO basic-auth bearer tokens are sent as `Bearer basic//<token>`. */
export const BASIC_TOKEN_PREFIX = 'basic//';

export interface AuthState {
  user: string;
}

/** Requires a valid bearer token; sets `ctx.state.user`. */
export function requireUser(tokens: TokenSigner) {
  return async (ctx: Context, next: Next): Promise<void> => {
    const header = ctx.get('Authorization');
    if (!header) throw new OpenEOError('AuthenticationRequired', 'this endpoint needs authentication: get a token from GET /credentials/basic and send it as "Authorization: Bearer basic//<token>"');
    const match = /^Bearer\s+(.+)$/i.exec(header);
    if (!match) throw new OpenEOError('AuthenticationSchemeInvalid', 'use "Authorization: Bearer basic//<token>"');
    const credential = match[1]!.trim();
    if (!credential.startsWith(BASIC_TOKEN_PREFIX)) throw new OpenEOError('AuthenticationSchemeInvalid', 'only tokens from GET /credentials/basic ("basic//…") are accepted');
    const user = tokens.verify(credential.slice(BASIC_TOKEN_PREFIX.length));
    if (!user) throw new OpenEOError('TokenInvalid', 'the token is invalid or expired; get a new one from GET /credentials/basic');
    (ctx.state as AuthState).user = user;
    await next();
  };
}
