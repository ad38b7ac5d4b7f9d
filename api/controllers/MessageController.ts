import { BadRequestError, ForbiddenError } from '../../lib/errors.js';
import { Flux } from '../../lib/Flux.js';
import type { FluxResponse } from '../../lib/http.js';
import { ModelController, type RequestContext } from '../../lib/ModelController.js';
import { intersects } from '../../lib/permissions.js';
import { channelPattern, Message } from '../models/Message.js';
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

  /** Authors edit and delete their own messages; `message/admin` any. */
  protected override async checkItem(ctx: RequestContext, message: Message): Promise<void> {
    if (Message.teamCan(ctx.team, 'admin')) return;
    if (message.userId !== ctx.user.id) throw new ForbiddenError('Only the author may change a message');
  }

  /** A team channel must name a team of the tenant. */
  protected override async beforeSave(ctx: RequestContext, message: Message): Promise<void> {
    if (!message.isNewRecord && !message.changed('channel')) return;
    const match = channelPattern.exec(message.channel);
    const teamId = match?.[2];
    if (!teamId) return;
    // the author's own team is known to exist (the identity is dropped when a team changes): no query
    if (ctx.team.id !== 0 && Number(teamId) === ctx.team.id) return;
    if (!(await Flux.Team.count({ where: { id: Number(teamId), tenantId: ctx.tenant.id } }))) {
      throw new BadRequestError('Invalid data', [
        { path: 'channel', message: 'no such team', type: 'reference' },
      ]);
    }
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
