import { ForbiddenError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import { ModelController, type RequestContext } from '../../lib/ModelController.js';
import { intersects } from '../../lib/permissions.js';
import { Message } from '../models/Message.js';
import type { AppRequest } from '../types.js';

/** A channel as `GET /message/channels` lists it. */
export interface ChannelInfo {
  channel: string;
  category: 'public' | 'group' | 'private';
  /** Human name: the team's name or the group. */
  label: string;
  read: boolean;
  write: boolean;
}

/**
 * Chat messages: generic CRUD where the author is the caller; authors edit and delete their own
 * messages (`message/admin` any); plus `GET /message/channels`.
 */
export class MessageController extends ModelController<Message> {
  constructor() {
    super(Message);
  }

  protected override async prepareCreate(ctx: RequestContext, values: Record<string, unknown>) {
    return { ...values, userId: ctx.user.id };
  }

  override async update(req: AppRequest, res: FluxResponse): Promise<void> {
    await this.requireAuthor(req);
    await super.update(req, res);
  }

  override async destroy(req: AppRequest, res: FluxResponse): Promise<void> {
    await this.requireAuthor(req);
    await super.destroy(req, res);
  }

  private async requireAuthor(req: AppRequest): Promise<void> {
    const ctx = this.context(req);
    if (Message.teamCan(ctx.team, 'admin')) return;
    const message = await this.findReadable(ctx, this.id(req));
    if (message.userId !== ctx.user.id) throw new ForbiddenError('Only the author may change a message');
  }

  /**
   * `GET /message/channels` → the channels of the tenant the caller can read, each with
   * `{channel, category, label, read, write}`, public channels first, then groups, then private.
   */
  async channels(req: AppRequest, res: FluxResponse): Promise<void> {
    const ctx = this.context(req);
    const readGroups = Message.getUserReadGroups(ctx.team, ctx.user);
    const writeGroups = Message.getUserCreateGroups(ctx.team, ctx.user);
    const teams = await Flux.Team.findAll({ where: { tenantId: ctx.tenant.id }, order: [['name', 'ASC']] });
    const candidates: Array<Omit<ChannelInfo, 'read' | 'write'>> = [
      ...teams.map((team) => ({
        channel: `public:${team.id}`,
        category: 'public' as const,
        label: team.name,
      })),
      ...[...new Set(teams.map((team) => team.group).filter((group): group is string => !!group))]
        .sort()
        .map((group) => ({ channel: `group:${group}`, category: 'group' as const, label: group })),
      ...teams.map((team) => ({
        channel: `private:${team.id}`,
        category: 'private' as const,
        label: team.name,
      })),
    ];
    const channels: ChannelInfo[] = [];
    for (const candidate of candidates) {
      const groups = Message.build({ channel: candidate.channel } as never).getReadGroups();
      if (!intersects(readGroups, groups)) continue;
      channels.push({ ...candidate, read: true, write: intersects(writeGroups, groups) });
    }
    res.ok(channels);
  }
}
