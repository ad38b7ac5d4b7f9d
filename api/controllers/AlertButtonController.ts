import { z } from 'zod';
import { BadRequestError, ForbiddenError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import { ModelController } from '../../lib/ModelController.js';
import { validate } from '../../lib/validate.js';
import { AlertButton } from '../models/AlertButton.js';
import type { AppRequest } from '../types.js';

const raiseSchema = z.object({ message: z.string().max(5000).optional().nullable() });

/**
 * Alert buttons: generic CRUD, plus `POST /alertbutton/:id/alert` to raise an alert from one. A destroyed
 * button's alerts stay, without `buttonId` (declared by `Alert.references`).
 */
export class AlertButtonController extends ModelController<AlertButton> {
  /** Request bodies of the actions beyond CRUD, for validation and the OpenAPI document. */
  static schemas = { raiseAlert: raiseSchema };

  constructor() {
    super(AlertButton);
  }

  /**
   * `POST /alertbutton/:id/alert {message?}` → 201 the new alert, sent by the caller's team to the
   * button's receiver team. Needs `alertButton/createAlert` (for a button of the team's group) or
   * `alertButton/admin`.
   * @throws 404 unreadable button, 403 no right to raise, 400 `message` missing when the button requires it.
   */
  async raiseAlert(req: AppRequest, res: FluxResponse): Promise<void> {
    const ctx = this.context(req);
    const { message } = validate(raiseSchema, req.data);
    const button = await this.findReadable(ctx, this.id(req));
    // admins press any button; others need createAlert and a button of their own group
    const team = req.team;
    const allowed =
      !!team &&
      (AlertButton.teamCan(team, 'admin') ||
        (AlertButton.teamCan(team, 'createAlert') && !!team.group && button.senderGroup === team.group));
    if (!allowed || !team)
      throw new ForbiddenError('Needs permission alertButton/createAlert for a button of your group');
    const text = message?.trim() ? message.trim() : null;
    if (button.messageRequired && !text) {
      throw new BadRequestError('Invalid data', [
        { path: 'message', message: button.messagePrompt || 'This button needs a message', type: 'required' },
      ]);
    }
    const alert = await Flux.Alert.create({
      tenantId: ctx.tenant.id,
      title: button.title,
      severity: 'warning',
      message: text ?? button.messageDefault,
      senderTeamId: team.id,
      receiverTeamId: button.receiverTeamId,
      buttonId: button.id,
      users: [],
    });
    res.created(alert);
  }
}
