import { Op } from 'sequelize';
import { z } from 'zod';
import { BadRequestError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import { ModelController, type RequestContext } from '../../lib/ModelController.js';
import type { OperationDoc } from '../../lib/openapi.js';
import { validate } from '../../lib/validate.js';
import { Alert } from '../models/Alert.js';
import { acknowledge as acknowledgeAlert } from '../services/AlertService.js';
import type { AppRequest } from '../types.js';

const assignedUsersSchema = z.object({ users: z.array(z.number().int().positive()).max(100) });

/**
 * Alerts: generic CRUD, plus `PUT /alert/:id/users` to assign users to an alert and
 * `POST /alert/:id/acknowledge`.
 */
export class AlertController extends ModelController<Alert> {
  /** Request bodies of the actions beyond CRUD, for validation and the OpenAPI document. */
  static schemas = { updateAssignedUsers: assignedUsersSchema };
  /** `/openapi.json`: what the action beyond CRUD answers, which Flux cannot infer. */
  static openapi: Record<string, OperationDoc> = {
    acknowledge: {
      description:
        'No body. Sets `acknowledgedAt` (and `acknowledgedById`): the alert no longer escalates. Idempotent: ' +
        'a second acknowledgement keeps the first time. Receiver team, `alert/nullReceiver` for alerts sent ' +
        'to nobody, `alert/admin`; 404 unreadable, 403 readable but not yours to acknowledge ' +
        '(docs/escalation.md).',
      responses: {
        200: {
          description: 'The acknowledged Alert',
          content: { 'application/json': { schema: { $ref: '#/components/schemas/Alert' } } },
        },
      },
    },
  };

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

  /**
   * `POST /alert/:id/acknowledge` → 200 the alert, `acknowledgedAt` set: from then on it never escalates
   * (docs/escalation.md). Idempotent: acknowledging it again changes nothing and answers the alert with
   * the first time. Allowed to `alert/admin`, to the members of its receiver team and, for an alert sent to
   * nobody, to `alert/nullReceiver` ({@link Alert.getUserAcknowledgeGroups}); re-checked on the locked row.
   * @throws 400 bad id, 401 anonymous, 404 unreadable alert, 403 readable but not the caller's to acknowledge.
   */
  async acknowledge(req: AppRequest, res: FluxResponse): Promise<void> {
    const ctx = this.context(req);
    const alert = await this.findReadable(ctx, this.id(req));
    const userGroups = Alert.getUserAcknowledgeGroups(ctx.team, ctx.user);
    this.allow(userGroups, alert.getAcknowledgeGroups(), 'acknowledge');
    res.ok(
      await acknowledgeAlert(alert.id, ctx.user.id, (current) =>
        this.allow(userGroups, current.getAcknowledgeGroups(), 'acknowledge'),
      ),
    );
  }
}
