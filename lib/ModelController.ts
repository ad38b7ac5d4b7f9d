import {
  type Attributes,
  type FindOptions,
  ForeignKeyConstraintError,
  Op,
  Transaction,
  type WhereOptions,
} from 'sequelize';
import type { FluxContext } from './context.js';
import { countUpTo, totalCountHeaders } from './countUpTo.js';
import { sqliteLikeOperand } from './database.js';
import {
  BadRequestError,
  ForbiddenError,
  NotFoundError,
  UnauthorizedError,
  type ValidationIssue,
} from './errors.js';
import { type FluxModel, type FluxModelClass, publicAttributes } from './FluxModel.js';
import type { FluxRequest, FluxResponse, RequestTenant } from './http.js';
import { leanInserter } from './leanInsert.js';
import { type LeanFindOptions, type LeanItem, leanReader } from './leanRead.js';
import {
  type Group,
  intersects,
  NOTHING,
  noTeam,
  type PermissionTeam,
  type PermissionUser,
} from './permissions.js';
import {
  type AttributeInfo,
  type FindQuery,
  type LikeOperand,
  parseFindQuery,
  storableDate,
} from './query.js';
import { bindForSubscription } from './socket/transport.js';

export type { FluxModelClass };

/** Who is asking: the authenticated user, the team whose permissions apply, and the tenant. */
export interface RequestContext {
  user: PermissionUser;
  team: PermissionTeam;
  tenant: RequestTenant;
  /** The session of the request, when it has one. */
  sessionId?: number;
}

function checkValue(
  name: string,
  info: AttributeInfo | undefined,
  value: unknown,
  allowNull: boolean,
): ValidationIssue | undefined {
  const issue = (message: string): ValidationIssue => ({ path: name, message, type: 'type' });
  if (value === null) return allowNull ? undefined : issue(`${name} cannot be null`);
  switch (info?.kind) {
    case 'integer':
      return Number.isSafeInteger(value) ? undefined : issue(`${name} must be an integer`);
    case 'number':
      return typeof value === 'number' && Number.isFinite(value)
        ? undefined
        : issue(`${name} must be a number`);
    case 'boolean':
      return typeof value === 'boolean' ? undefined : issue(`${name} must be true or false`);
    case 'date':
      return (typeof value === 'string' || typeof value === 'number') && storableDate(new Date(value))
        ? undefined
        : issue(`${name} must be a date`);
    case 'json':
      return undefined;
    default:
      if (typeof value !== 'string') return issue(`${name} must be a string`);
      if (info?.maxLength !== undefined && value.length > info.maxLength) {
        return issue(`${name} must have at most ${info.maxLength} characters`);
      }
      if (info?.values && !info.values.includes(value))
        return issue(`${name} must be one of ${info.values.join(', ')}`);
      return undefined;
  }
}

/**
 * The values of `item` as {@link changedSince} compares them: primitives as they are, dates as their time,
 * other objects (arrays, JSON) as their JSON text, so that a value changed in place counts as changed.
 */
function valuesOf(item: FluxModel): Map<string, unknown> {
  const values = new Map<string, unknown>();
  for (const [key, value] of Object.entries(item.dataValues as Record<string, unknown>)) {
    if (value instanceof Date) values.set(key, value.getTime());
    else if (value !== null && typeof value === 'object') values.set(key, JSON.stringify(value));
    else values.set(key, value);
  }
  return values;
}

/**
 * Whether a value of `item` differs from `validated` (its {@link valuesOf} when `validate()` passed), e.g.
 * set by a controller's `beforeSave`: then `save()` validates again; else it need not validate the same
 * values twice (Sequelize's `save` validates unless told `validate: false`; about 3 % of a create's CPU).
 */
function changedSince(item: FluxModel, validated: Map<string, unknown>): boolean {
  const now = valuesOf(item);
  if (now.size !== validated.size) return true;
  for (const [key, value] of now) if (!Object.is(value, validated.get(key))) return true;
  return false;
}

/**
 * Whether a `find` costs in proportion to the rows the user may read rather than to its page: a
 * pattern scans every row; a count counts them all; a sort on anything but `id` sorts them all; an
 * offset reads and skips rows; a page over `largePage` items is built and serialized on the main thread.
 * Such reads go through the query gate (`app.queryGate`).
 */
export function isExpensive(query: FindQuery, largePage: number): boolean {
  return (
    query.patterns > 0 ||
    query.count ||
    query.offset > 0 ||
    query.limit > largePage ||
    (query.order as Array<[string, string]>).some(([attribute]) => attribute !== 'id')
  );
}

/**
 * Generic CRUD over one model (docs/reference.md#generic-crud) with group permissions (docs/permissions.md),
 * tenant scoping (docs/reference.md#tenants) and subscriptions (docs/reference.md#events). Actions: `find`,
 * `get`, `create`, `update`, `destroy`, `subscribe`, `unsubscribe`. Subclasses add domain actions and may
 * override the protected helpers. Its collaborators (models, database, pub/sub, sockets, query gate, config)
 * are handed in by `setup(app)` when the controller is loaded; it reads no global.
 *
 * Errors: 400 bad input (`BadRequest` / `ValidationError`), 401 anonymous, 403 not allowed to write,
 * 404 missing **or unreadable** (an unreadable item is indistinguishable from a missing one).
 */
export class ModelController<M extends FluxModel = FluxModel> {
  #app?: FluxContext;

  constructor(protected readonly model: FluxModelClass<M>) {}

  /** Hands the controller its collaborators; `loadControllers` calls it before any request. */
  setup(app: FluxContext): void {
    this.#app = app;
  }

  /** The collaborators handed to `setup`. @throws Error before `setup`. */
  protected get app(): FluxContext {
    if (!this.#app) throw new Error(`${this.constructor.name} has no app: call setup(app) first`);
    return this.#app;
  }

  /** The authenticated context of a request. @throws UnauthorizedError without a user. */
  protected context(req: FluxRequest): RequestContext {
    if (!req.user || !req.tenant) throw new UnauthorizedError();
    return { user: req.user, team: req.team ?? noTeam, tenant: req.tenant, sessionId: req.session?.id };
  }

  /** The `:id` route param as an integer. @throws BadRequestError */
  protected id(req: FluxRequest): number {
    const raw = req.params.id;
    if (typeof raw !== 'string' || !/^\d{1,15}$/.test(raw))
      throw new BadRequestError('id must be a positive integer');
    return Number(raw);
  }

  /** Tenant scope plus read filters; `NOTHING` when the user can read no item. */
  protected readableWhere(ctx: RequestContext): WhereOptions | typeof NOTHING {
    const readable = this.model.getReadFilters(ctx.team, ctx.user);
    if (readable === NOTHING) return NOTHING;
    // as flat as it can be: Sequelize walks (and copies) every level of a where on each query
    const tenantId = ctx.tenant.id;
    return Reflect.ownKeys(readable).length === 0 ? { tenantId } : { tenantId, [Op.and]: [readable] };
  }

  /** The item `id` if it exists in the tenant and the user may read it. @throws NotFoundError */
  protected async findReadable(ctx: RequestContext, id: number): Promise<M> {
    const where = this.readableWhere(ctx);
    // `findAll` with a limit is what `findOne` runs here, minus one deep copy of the options and a
    // lodash chain over the unique keys (a tenth of a socket `get`'s CPU)
    const [item] =
      where === NOTHING
        ? []
        : await this.model.findAll({ where: { ...where, id } as WhereOptions, limit: 1 });
    if (!item) throw new NotFoundError(`No ${this.model.publicName} ${id}`);
    return item;
  }

  /**
   * What `get` answers for the item `id`: its JSON object when the model reads lean (lib/leanRead.ts) and
   * `findReadable` is this class's, else the instance `findReadable` gives. @throws NotFoundError
   */
  protected async readOne(ctx: RequestContext, id: number): Promise<M | LeanItem> {
    const lean = this.findReadable === ModelController.prototype.findReadable && leanReader(this.model);
    if (!lean) return this.findReadable(ctx, id);
    const where = this.readableWhere(ctx);
    const [item] = where === NOTHING ? [] : await lean.findAll({ where: { ...where, id }, limit: 1 });
    if (!item) throw new NotFoundError(`No ${this.model.publicName} ${id}`);
    return item;
  }

  /** The items `options` selects, as `find` answers them: lean JSON objects where the model allows. */
  private readMany(options: LeanFindOptions): Promise<Array<M | LeanItem>> {
    const lean = leanReader(this.model);
    return lean ? lean.findAll(options) : this.model.findAll(options as FindOptions<Attributes<M>>);
  }

  /**
   * The writable subset of `data` for this user, type-checked against the attributes.
   * @throws BadRequestError (ValidationError) listing each wrongly typed value.
   */
  protected writableValues(
    ctx: RequestContext,
    data: Record<string, unknown>,
    item?: M,
  ): Record<string, unknown> {
    const attributes = this.model.getAttributes() as Record<string, { allowNull?: boolean }>;
    const kinds = publicAttributes(this.model);
    const values: Record<string, unknown> = {};
    const issues: ValidationIssue[] = [];
    for (const name of this.model.getWritableAttributes(ctx.team, ctx.user, item)) {
      if (!Object.hasOwn(data, name) || data[name] === undefined) continue;
      const issue = checkValue(name, kinds.get(name), data[name], attributes[name]?.allowNull !== false);
      if (issue) issues.push(issue);
      else values[name] = data[name];
    }
    if (issues.length) throw new BadRequestError('Invalid data', issues);
    return values;
  }

  /**
   * Refuses the values the client wrote (`written`: their attributes) for declared references
   * (`Model.references`, e.g. `teamId`) that name a missing row or a row of another tenant. Values the
   * server sets itself (`prepareCreate`) are not counted again.
   * @throws BadRequestError (ValidationError, `type: 'reference'`) listing each.
   */
  protected async checkReferences(ctx: RequestContext, item: M, written: readonly string[]): Promise<void> {
    const issues: ValidationIssue[] = [];
    const record = item as FluxModel;
    for (const attribute of written) {
      if (!Object.hasOwn(this.model.references, attribute)) continue;
      const value = record.get(attribute);
      if (
        value === null ||
        value === undefined ||
        (!record.isNewRecord && !record.changed(attribute as never))
      )
        continue;
      const target = this.app.models[this.model.references[attribute].model] as FluxModelClass | undefined;
      const where = target?.tenantScoped ? { id: value, tenantId: ctx.tenant.id } : { id: value };
      const found = target ? await target.count({ where: where as WhereOptions }) : 0;
      if (!found) issues.push({ path: attribute, message: `${attribute} does not exist`, type: 'reference' });
    }
    if (issues.length) throw new BadRequestError('Invalid data', issues);
  }

  /** How `like` patterns reach this model's database (the same meaning everywhere, see lib/query.ts). */
  private likeOperand(): LikeOperand | undefined {
    const sequelize = this.model.sequelize;
    return sequelize?.getDialect() === 'sqlite' ? sqliteLikeOperand(sequelize) : undefined;
  }

  /** Throws 403 unless the user's groups for `action` meet the item's. */
  protected allow(userGroups: Group[], itemGroups: Group[], action: string): void {
    if (!intersects(userGroups, itemGroups))
      throw new ForbiddenError(`Not allowed to ${action} this ${this.model.publicName}`);
  }

  /** `GET /<model>`: readable items; `filters`, `sort`, `limit`, `offset`, `count`, `subscribe`. */
  async find(req: FluxRequest, res: FluxResponse): Promise<void> {
    const ctx = this.context(req);
    const query = parseFindQuery(
      req.data,
      publicAttributes(this.model),
      this.app.config.query,
      this.likeOperand(),
    );
    // Join the rooms before reading, so that no change committed after the query is missed.
    if (query.subscribe) this.subscribeSocket(req, ctx);
    const readable = this.readableWhere(ctx);
    if (readable === NOTHING) {
      if (query.count) res.setHeader('X-Total-Count', '0');
      res.ok([]);
      return;
    }
    const where = { [Op.and]: [readable, query.where] };
    const options = { where, order: query.order, limit: query.limit, offset: query.offset };
    const expensive = isExpensive(query, this.app.config.query.expensive.largePage);
    // a count makes a read expensive: only the admitted path counts
    const [items, total] = !expensive
      ? [await this.readMany(options), undefined]
      : // by user, not session: logging in again must not buy a user another place
        await this.app.queryGate.run(`user:${ctx.tenant.id}:${ctx.user.id}`, () =>
          this.scan(options, query.count),
        );
    if (total !== undefined)
      for (const [name, value] of Object.entries(totalCountHeaders(total, this.app.config.query.maxCount)))
        res.setHeader(name, value);
    res.ok(items);
  }

  /**
   * An expensive read ({@link isExpensive}), admitted by the query gate: its statements run one after the other (one connection at a time), on SQLite in a read
   * transaction, which has a connection of its own (WAL lets it read beside the main connection, which
   * stays free for every other request).
   */
  private async scan(
    options: LeanFindOptions,
    count: boolean,
  ): Promise<[Array<M | LeanItem>, number | undefined]> {
    const read = async (transaction?: Transaction): Promise<[Array<M | LeanItem>, number | undefined]> => {
      const items = await this.readMany({ ...options, transaction });
      return [items, count ? await this.count(options.where, transaction) : undefined];
    };
    const sequelize = this.model.sequelize!;
    if (sequelize.getDialect() !== 'sqlite') return read();
    return sequelize.transaction({ type: Transaction.TYPES.DEFERRED }, read);
  }

  /**
   * The rows `where` selects, counted up to `query.maxCount + 1` ({@link countUpTo}): an exact count
   * costs in proportion to the rows, whatever the page.
   */
  private count(where: WhereOptions, transaction?: Transaction): Promise<number> {
    return countUpTo(this.model, where, this.app.config.query.maxCount + 1, transaction);
  }

  /** `GET /<model>/:id`: 404 when missing or unreadable. */
  async get(req: FluxRequest, res: FluxResponse): Promise<void> {
    const ctx = this.context(req);
    res.ok(await this.readOne(ctx, this.id(req)));
  }

  /** `POST /<model>`: 201 with the created item; 403 when the item is outside the user's create groups. */
  async create(req: FluxRequest, res: FluxResponse): Promise<void> {
    const ctx = this.context(req);
    const written = this.writableValues(ctx, req.data);
    const values = await this.prepareCreate(ctx, written);
    const item = this.model.build({ ...values, tenantId: ctx.tenant.id } as never);
    await item.validate(); // a malformed item is a 400 before it is a 403
    const validated = valuesOf(item);
    this.allow(this.model.getUserCreateGroups(ctx.team, ctx.user), item.getCreateGroups(), 'create');
    await this.checkReferences(ctx, item, Object.keys(written));
    await this.beforeSave(ctx, item);
    const validate = changedSince(item, validated);
    // the statement and hooks of `save`, without its per-call work (lib/leanInsert.ts)
    if (validate || !(await leanInserter(this.model)?.insert(item))) await item.save({ validate });
    await this.afterSave(ctx, item, ['id', ...Object.keys(values)]);
    res.created(item);
  }

  /** `PUT|PATCH /<model>/:id`: partial update, allowed before and after the change. */
  async update(req: FluxRequest, res: FluxResponse): Promise<void> {
    const ctx = this.context(req);
    const item = await this.findReadable(ctx, this.id(req));
    const userGroups = this.model.getUserUpdateGroups(ctx.team, ctx.user);
    this.allow(userGroups, item.getUpdateGroups(), 'update');
    await this.checkItem(ctx, item, 'update');
    const written = this.writableValues(ctx, req.data, item);
    item.set(written as never);
    await item.validate();
    const validated = valuesOf(item);
    this.allow(userGroups, item.getUpdateGroups(), 'update');
    await this.checkReferences(ctx, item, Object.keys(written));
    await this.beforeSave(ctx, item);
    const changed = (item.changed() || []) as string[];
    await item.save({ validate: changedSince(item, validated) });
    await this.afterSave(ctx, item, changed);
    res.ok(item);
  }

  /**
   * `DELETE /<model>/:id`: 200 with the destroyed item. The rows that reference it follow the rule their
   * model declares (`Model.references`, lib/references.ts) in the destroy's transaction: a `restrict`
   * reference refuses it with 400 naming the referencing model — the item's own are checked before
   * `beforeDestroy` too, so such a refused destroy has no effect — `cascade` rows are destroyed, `set null`
   * attributes cleared; each change is published after the commit.
   */
  async destroy(req: FluxRequest, res: FluxResponse): Promise<void> {
    const ctx = this.context(req);
    const item = await this.findReadable(ctx, this.id(req));
    this.allow(this.model.getUserDestroyGroups(ctx.team, ctx.user), item.getDestroyGroups(), 'destroy');
    await this.checkItem(ctx, item, 'destroy');
    const refusal = await this.app.references.refusal(item, { rules: ['restrict'] });
    if (refusal) throw refusal;
    await this.beforeDestroy(ctx, item);
    try {
      await this.app.sequelize.transaction((transaction) => item.destroy({ transaction }));
    } catch (err) {
      // a row referencing the item was written after the rules ran (another request): name it as they would
      if (err instanceof ForeignKeyConstraintError) throw (await this.app.references.refusal(item)) ?? err;
      throw err;
    }
    res.ok(item);
  }

  /** Completes the values of a create (e.g. the author); what it returns is built and checked. */
  protected async prepareCreate(
    _ctx: RequestContext,
    values: Record<string, unknown>,
  ): Promise<Record<string, unknown>> {
    return values;
  }

  /**
   * Domain checks on an existing item the user may update or destroy by groups, before anything changes
   * (e.g. "only the author"). Throw an ExpectedError to refuse.
   */
  protected async checkItem(_ctx: RequestContext, _item: M, _action: 'update' | 'destroy'): Promise<void> {}

  /**
   * Domain checks on a valid, permitted item about to be saved by create or update (e.g. "a role you
   * do not hold yourself cannot be granted"). Throw an ExpectedError to refuse.
   */
  protected async beforeSave(_ctx: RequestContext, _item: M): Promise<void> {}

  /**
   * Follow-ups of a saved create or update, before the reply (`changed`: the attributes written; a create
   * lists `id`).
   */
  protected async afterSave(_ctx: RequestContext, _item: M, _changed: string[]): Promise<void> {}

  /**
   * Domain checks before a permitted destroy (throw an ExpectedError to refuse), and effects outside the
   * database that must come first (e.g. logging the user out). Runs after the `restrict` references are
   * checked. What happens to the rows referencing the item is declared on their models
   * (`Model.references`), not written here.
   */
  protected async beforeDestroy(_ctx: RequestContext, _item: M): Promise<void> {}

  /** `POST /<model>/subscribe` (socket only): joins one room per user read group. */
  async subscribe(req: FluxRequest, res: FluxResponse): Promise<void> {
    const ctx = this.context(req);
    this.subscribeSocket(req, ctx);
    res.ok({ model: this.model.publicName, subscribed: true });
  }

  /** `POST /<model>/unsubscribe` (socket only): leaves every room of the model. */
  async unsubscribe(req: FluxRequest, res: FluxResponse): Promise<void> {
    this.context(req);
    const socket = this.requireSocket(req);
    this.app.pubsub.unsubscribe(socket, this.model.publicName);
    res.ok({ model: this.model.publicName, subscribed: false });
  }

  protected requireSocket(req: FluxRequest) {
    if (!req.isSocket || !req.ioSocket)
      throw new BadRequestError('Subscriptions need a socket.io connection');
    return req.ioSocket;
  }

  protected subscribeSocket(req: FluxRequest, ctx: RequestContext): void {
    const socket = this.requireSocket(req);
    if (req.session) {
      bindForSubscription(this.app.sockets, socket, {
        sessionId: req.session.id,
        userId: ctx.user.id,
        tenantId: ctx.tenant.id,
        teamId: ctx.user.teamId,
        expiresAt: req.authExpiresAt,
      });
    }
    this.app.pubsub.subscribe(
      socket,
      ctx.tenant.id,
      this.model.publicName,
      this.model.getUserReadGroups(ctx.team, ctx.user),
    );
  }
}
