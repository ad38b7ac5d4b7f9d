import { Op } from 'sequelize';
import { z } from 'zod';
import { BadRequestError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import { ModelController, type RequestContext } from '../../lib/ModelController.js';
import { validate } from '../../lib/validate.js';
import { Alert } from '../models/Alert.js';
import type { AppRequest } from '../types.js';

const assignedUsersSchema = z.object({ users: z.array(z.number().int().positive()).max(100) });

/** Alerts: generic CRUD, plus `PUT /alert/:id/users` to assign users to an alert. */
export class AlertController extends ModelController<Alert> {
  /** Request bodies of the actions beyond CRUD, for validation and the OpenAPI document. */
  static schemas = { updateAssignedUsers: assignedUsersSchema };

  constructor() {
    super(Alert);
  }

  /** The sender is the creating team, unless an admin names another. */
  protected override async prepareCreate(ctx: RequestContext, values: Record<string, unknown>) {
    return { ...values, senderTeamId: values.senderTeamId ?? (ctx.team.id || null) };
  }

  /** Assigned users must be users of the tenant. */
  protected override async beforeSave(ctx: RequestContext, alert: Alert): Promise<void> {
    if (!alert.isNewRecord && !alert.changed('users')) return;
    const unique = [...new Set(alert.users ?? [])];
    const found = unique.length
      ? await Flux.User.count({ where: { tenantId: ctx.tenant.id, id: { [Op.in]: unique } } })
      : 0;
    if (found !== unique.length) {
      throw new BadRequestError('Invalid data', [
        { path: 'users', message: 'unknown user id', type: 'reference' },
      ]);
    }
  }

  /**
   * `PUT /alert/:id/users {users: [userId, …]}`: replaces the users assigned to the alert.
   * Needs the right to update the alert; every id must be a user of the tenant.
   * @throws 400 ValidationError, 404 unreadable alert, 403 not a handler of the alert.
   */
  async updateAssignedUsers(req: AppRequest, res: FluxResponse): Promise<void> {
    const ctx = this.context(req);
    const { users } = validate(assignedUsersSchema, req.data);
    const alert = await this.findReadable(ctx, this.id(req));
    this.allow(Alert.getUserUpdateGroups(ctx.team, ctx.user), alert.getUpdateGroups(), 'update');
    alert.users = [...new Set(users)];
    await this.beforeSave(ctx, alert);
    await alert.save();
    res.ok(alert);
  }
}
