import type { FluxResponse } from '../../lib/http.js';
import { ModelController } from '../../lib/ModelController.js';
import { Session } from '../models/Session.js';
import { authService } from '../services/AuthService.js';
import type { AppRequest } from '../types.js';

/**
 * Sessions: a user lists and revokes their own; `session/read` lists everyone's, and with
 * `session/admin` revokes them. `DELETE /session/:id` revokes (the row stays, with `revokedAt`).
 */
export class SessionController extends ModelController<Session> {
  constructor() {
    super(Session);
  }

  override async destroy(req: AppRequest, res: FluxResponse): Promise<void> {
    const ctx = this.context(req);
    const session = await this.findReadable(ctx, this.id(req));
    const own = session.userId === ctx.user.id;
    if (!own)
      this.allow(Session.getUserDestroyGroups(ctx.team, ctx.user), session.getDestroyGroups(), 'revoke');
    await authService.revoke(session);
    res.ok(session);
  }
}
