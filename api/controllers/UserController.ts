import { BadRequestError, ForbiddenError, NotFoundError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import { ModelController, type RequestContext } from '../../lib/ModelController.js';
import { User } from '../models/User.js';
import { endSessions, passwordChangedFrom } from '../services/AccountService.js';
import { findAvatar, storeAvatar } from '../services/AvatarService.js';
import { checkPasswordLimited } from '../services/LoginLimitService.js';
import { comparePassword } from '../services/PasswordService.js';
import { assertCanGrantRole } from '../services/PermissionService.js';
import type { AppRequest } from '../types.js';

/**
 * CRUD of users: `user/read|team|admin`; everyone reads and edits themself (name, password, preferences).
 * No escalation: an admin of users acts only on users whose team's role it holds entirely (it cannot
 * reset the password of, rename, or delete a more powerful user), and puts users only into such teams.
 * Changing one's own password or e-mail needs the current password; any password change logs out the
 * user's other sessions.
 */
export class UserController extends ModelController<User> {
  constructor() {
    super(User);
  }

  override async update(req: AppRequest, res: FluxResponse): Promise<void> {
    const ctx = this.context(req);
    // whoever holds a stolen token must not redirect the password resets to an address of theirs either
    const changesCredential = typeof req.data.password === 'string' || req.data.email !== undefined;
    if (changesCredential && this.id(req) === ctx.user.id) {
      const current = req.data.currentPassword;
      const self = await Flux.User.findByPk(ctx.user.id);
      // a guess of the current password counts against the login limits, as a login would
      const valid =
        typeof current === 'string' &&
        self !== null &&
        (await checkPasswordLimited({ tenantId: ctx.tenant.id, login: self.login, address: req.ip }, () =>
          comparePassword(current, self.password, `address:${req.ip ?? 'unknown'}`),
        ));
      if (!valid) {
        throw new BadRequestError('Invalid data', [
          {
            path: 'currentPassword',
            message: 'the current password is needed to change the password or the e-mail',
            type: 'required',
          },
        ]);
      }
    }
    await super.update(req, res);
  }

  /**
   * `POST /user/avatar/:id` (multipart field `avatar`): the image, resized to fit 512×512, becomes the
   * user's avatar; `avatarUpdatedAt` moves (and is published). Own avatar, or `user/admin` over users one
   * may change. PNG, JPEG, WebP or GIF by content, at most `upload.maxImagePixels` pixels.
   * @throws 400 no file / not an image / too many pixels, 403 not allowed, 404 unreadable user, 413 too
   *   large, 503 `Busy` when the image queue is full.
   */
  async uploadAvatar(req: AppRequest, res: FluxResponse): Promise<void> {
    const ctx = this.context(req);
    const target = await this.findReadable(ctx, this.id(req));
    if (target.id !== ctx.user.id) {
      if (!User.teamCan(ctx.team, 'admin'))
        throw new ForbiddenError('Only your own avatar, or with user/admin');
      await this.checkItem(ctx, target);
    }
    if (!req.file) throw new BadRequestError('Send the image as multipart/form-data field "avatar"');
    await storeAvatar(req.file.path, ctx.tenant.id, target.id);
    target.avatarUpdatedAt = new Date();
    await target.save();
    res.ok(target);
  }

  /**
   * `GET /user/avatar/:id` → the avatar (image/webp) of a user one may read, with validators (ETag,
   * Last-Modified) and `Cache-Control: private, max-age=300`. 404 without avatar.
   */
  async getAvatar(req: AppRequest, res: FluxResponse): Promise<void> {
    const ctx = this.context(req);
    const target = await this.findReadable(ctx, this.id(req));
    const avatar = await findAvatar(ctx.tenant.id, target.id);
    if (!avatar) throw new NotFoundError('This user has no avatar');
    await new Promise<void>((resolve, reject) => {
      res.sendFile(
        avatar.path,
        {
          headers: { 'Content-Type': 'image/webp', 'Cache-Control': 'private, max-age=300' },
          dotfiles: 'deny',
        },
        (err) => (err ? reject(err) : resolve()),
      );
    });
  }

  /** Acting on another user is acting on their role: only on users whose role one holds entirely. */
  protected override async checkItem(ctx: RequestContext, user: User): Promise<void> {
    if (user.id === ctx.user.id || user.teamId === null) return;
    const team = await Flux.Team.findOne({ where: { id: user.teamId, tenantId: ctx.tenant.id } });
    if (!team) return;
    try {
      assertCanGrantRole(ctx.team, team.role);
    } catch {
      throw new ForbiddenError(`Not allowed to change a user of the role "${team.role}"`);
    }
  }

  /**
   * Putting a user into a team gives them its role: only a team holding all of it may do so. A new
   * password ends the user's other sessions whatever writes it (api/services/AccountService.ts): changing
   * one's own, this session is the one kept.
   */
  protected override async beforeSave(ctx: RequestContext, user: User): Promise<void> {
    if (user.changed('password') && user.id === ctx.user.id && ctx.sessionId !== undefined)
      passwordChangedFrom(user, ctx.sessionId);
    if (user.teamId === null || user.teamId === undefined || !(user.isNewRecord || user.changed('teamId')))
      return;
    const team = await Flux.Team.findOne({ where: { id: user.teamId, tenantId: ctx.tenant.id } });
    if (team) assertCanGrantRole(ctx.team, team.role);
  }

  /**
   * A destroyed user is logged out everywhere first (its sessions, and those it opened as others through
   * `/auth/as`, are revoked; their sockets unbound). Its sessions are then destroyed with it, its messages
   * and uploads kept without author, as their models declare (`references`).
   */
  protected override async beforeDestroy(_ctx: RequestContext, user: User): Promise<void> {
    await endSessions(user.id);
  }
}
