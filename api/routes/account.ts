import { OpenEOError } from '../../common/errors.js';
import { type AuthState, requireUser } from '../http/authentication.js';
import type { ApiContext } from './api-context.js';
import type { EndpointRegistry } from './endpoint-registry.js';

export function registerAccount(api: ApiContext, endpoints: EndpointRegistry): void {
  endpoints.add('GET', '/credentials/basic', async (ctx) => {
    const header = ctx.get('Authorization');
    const match = /^Basic\s+(.+)$/i.exec(header);
    if (!match) throw new OpenEOError('AuthenticationRequired', 'send your user name and password with HTTP basic authentication');
    const decoded = Buffer.from(match[1]!, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    const user = await api.accounts.authenticate(decoded.slice(0, Math.max(0, colon)), decoded.slice(colon + 1));
    if (colon < 0 || !user) throw new OpenEOError('CredentialsInvalid', 'the user name or password is wrong');
    ctx.body = { access_token: api.tokens.issue(user).token };
  });
  endpoints.add('GET', '/me', requireUser(api.tokens), (ctx) => {
    const { user } = ctx.state as AuthState;
    ctx.body = { user_id: user, name: user, links: [] };
  });
}
