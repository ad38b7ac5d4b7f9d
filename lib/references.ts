import {
  type DestroyOptions,
  type Model,
  Op,
  QueryTypes,
  type Sequelize,
  type Transaction,
  type WhereOptions,
} from 'sequelize';
import { BadRequestError } from './errors.js';
import { FluxModel, type FluxModelClass, type OnDelete } from './FluxModel.js';

/**
 * References between models, as declared by each model's `static references` (see
 * {@link FluxModel.references}): resolved and checked once at start, then applied to every destroy by
 * one Sequelize hook, whatever calls it (API, CLI, service, job).
 */

const onDeleteRules: readonly OnDelete[] = ['restrict', 'cascade', 'set null'];

/** One declared reference, resolved: `from.attribute` holds the id of a `to` row. */
export interface ResolvedReference {
  readonly from: FluxModelClass;
  readonly attribute: string;
  readonly to: FluxModelClass;
  readonly onDelete: OnDelete;
}

/** A single-column foreign key of the database: `table.column` references `target.targetColumn`. */
export interface ForeignKey {
  table: string;
  column: string;
  target: string;
  /** Null when the database leaves it implicit (SQLite: the target's primary key). */
  targetColumn: string | null;
}

/** A reference declaration that does not hold: the server does not start. */
export class ModelReferenceError extends Error {
  constructor(where: string, problem: string) {
    super(`${where}: ${problem}`);
    this.name = 'ModelReferenceError';
  }
}

/** `a`, `a and b`, `a, b and c`. */
function listing(parts: string[]): string {
  return parts.length < 2 ? parts.join('') : `${parts.slice(0, -1).join(', ')} and ${parts.at(-1)}`;
}

/** The database column of a model attribute. */
function field(model: FluxModelClass, attribute: string): string {
  return (model.getAttributes() as Record<string, { field?: string }>)[attribute]?.field ?? attribute;
}

/**
 * The references of a set of models, indexed by the model they reference.
 *
 * @example
 * const references = new ReferenceRules(models); // throws ModelReferenceError on a bad declaration
 * references.checkForeignKeys(await readForeignKeys(sequelize)); // after the migrations
 * references.attach(sequelize); // every destroy now follows the rules
 */
export class ReferenceRules {
  /** Every declared reference, by model then attribute. */
  readonly all: readonly ResolvedReference[];
  private readonly incoming = new Map<object, ResolvedReference[]>();
  /** Every model by table name. */
  private readonly tables: Map<string, FluxModelClass>;

  /**
   * Resolves every model's `references`.
   * @throws ModelReferenceError when one names no model, no attribute of its model, `tenantId`, an
   *   unknown rule, `set null` on an attribute that does not allow null, or disagrees with an association
   *   of the same foreign key; and when `cascade` rules form a cycle (a destroy could recurse without end).
   */
  constructor(models: Readonly<Record<string, FluxModelClass>>) {
    const all: ResolvedReference[] = [];
    const names = Object.keys(models).join(', ');
    for (const from of Object.values(models)) {
      for (const [attribute, declared] of Object.entries(from.references)) {
        const where = `${from.name}.references.${attribute}`;
        const target = (declared as { model?: unknown } | null)?.model;
        const to = typeof target === 'string' && Object.hasOwn(models, target) ? models[target] : undefined;
        if (!to) throw new ModelReferenceError(where, `"${String(target)}" is not a model (${names})`);
        if (!onDeleteRules.includes(declared.onDelete))
          throw new ModelReferenceError(where, `onDelete must be one of ${onDeleteRules.join(', ')}`);
        const definition = (from.getAttributes() as Record<string, { allowNull?: boolean }>)[attribute];
        if (!definition || attribute === from.primaryKeyAttribute)
          throw new ModelReferenceError(where, `${from.name} has no such foreign key attribute`);
        if (attribute === 'tenantId' && from.tenantScoped)
          throw new ModelReferenceError(where, 'tenantId is managed by Flux');
        if (declared.onDelete === 'set null' && definition.allowNull === false)
          throw new ModelReferenceError(where, `'set null' needs an attribute that allows null`);
        all.push({ from, attribute, to, onDelete: declared.onDelete });
      }
    }
    this.all = all;
    this.tables = new Map(Object.values(models).map((model) => [model.tableName, model]));
    for (const reference of all) {
      const list = this.incoming.get(reference.to) ?? [];
      // cascades first: a row both cascaded and cleared is destroyed, not updated, then destroyed
      if (reference.onDelete === 'cascade') list.unshift(reference);
      else list.push(reference);
      this.incoming.set(reference.to, list);
    }
    this.checkAssociations(models);
    this.checkCascadeCycles(models);
  }

  /** The references to rows of `model` (cascades first). */
  referencesTo(model: object): readonly ResolvedReference[] {
    return this.incoming.get(model) ?? [];
  }

  /** An association over a declared foreign key must join the declared model. */
  private checkAssociations(models: Readonly<Record<string, FluxModelClass>>): void {
    for (const model of Object.values(models)) {
      for (const [name, association] of Object.entries(model.associations)) {
        const { associationType, foreignKey, source, target } = association as unknown as {
          associationType: string;
          foreignKey: string;
          source: FluxModelClass;
          target: FluxModelClass;
        };
        // belongsTo keeps the key on its source; hasOne and hasMany on their target
        const [holder, referenced] =
          associationType === 'BelongsTo'
            ? [source, target]
            : associationType === 'HasOne' || associationType === 'HasMany'
              ? [target, source]
              : [];
        if (!holder || !referenced || !Object.hasOwn(holder.references ?? {}, foreignKey)) continue;
        const declared = holder.references[foreignKey].model;
        if (declared !== referenced.name) {
          throw new ModelReferenceError(
            `${holder.name}.references.${foreignKey}`,
            `names ${declared}, but the association ${model.name}.${name} joins ${referenced.name} through it`,
          );
        }
      }
    }
  }

  private checkCascadeCycles(models: Readonly<Record<string, FluxModelClass>>): void {
    const done = new Set<object>();
    const visit = (model: FluxModelClass, path: FluxModelClass[]): void => {
      if (path.includes(model)) {
        const cycle = [...path.slice(path.indexOf(model)), model].map((m) => m.name).join(' → ');
        throw new ModelReferenceError(
          `${model.name}.references`,
          `'cascade' rules form a cycle (${cycle}): a destroy could recurse without end; use 'restrict' or 'set null' on one of them`,
        );
      }
      if (done.has(model)) return;
      for (const reference of this.referencesTo(model))
        if (reference.onDelete === 'cascade') visit(reference.from, [...path, model]);
      done.add(model);
    };
    for (const model of Object.values(models)) visit(model, []);
  }

  /**
   * Checks the declarations against the database's foreign keys ({@link readForeignKeys}): every foreign
   * key from a model's table to another model's table, but `tenantId`, is a declared reference of that
   * attribute to that model, and every declared reference is such a foreign key to the target's id.
   * A forgotten declaration fails the start, not the first destroy of a referenced row.
   * @throws ModelReferenceError listing every mismatch.
   */
  checkForeignKeys(foreignKeys: readonly ForeignKey[]): void {
    const problems: string[] = [];
    // a declaration is reported once: matched, or named by a problem of its foreign key
    const seen = new Set<ResolvedReference>();
    for (const key of foreignKeys) {
      const from = this.tables.get(key.table);
      const to = this.tables.get(key.target);
      if (!from || !to || (key.column === 'tenantId' && from.tenantScoped)) continue;
      const attribute = Object.keys(from.getAttributes()).find((name) => field(from, name) === key.column);
      if (!attribute) {
        problems.push(
          `${key.table}.${key.column} is a foreign key to ${key.target}, but ${from.name} has no attribute for it`,
        );
        continue;
      }
      const reference = this.all.find((r) => r.from === from && r.attribute === attribute);
      if (reference) seen.add(reference);
      if (!reference) {
        problems.push(
          `${key.table}.${key.column} is a foreign key to ${key.target}: declare it in ${from.name}.references ` +
            `(${attribute}: { model: '${to.name}', onDelete: 'restrict' | 'cascade' | 'set null' })`,
        );
      } else if (reference.to !== to) {
        problems.push(
          `${from.name}.references.${attribute} names ${reference.to.name}, but the foreign key references ${key.target}`,
        );
      } else if (key.targetColumn !== null && key.targetColumn !== field(to, to.primaryKeyAttribute)) {
        problems.push(
          `${key.table}.${key.column} references ${key.target}.${key.targetColumn}, not its primary key`,
        );
      }
    }
    for (const reference of this.all) {
      if (seen.has(reference)) continue;
      problems.push(
        `${reference.from.name}.references.${reference.attribute}: the database has no foreign key ` +
          `${reference.from.tableName}.${field(reference.from, reference.attribute)} → ${reference.to.tableName} (add it in a migration)`,
      );
    }
    if (problems.length) throw new ModelReferenceError('references', problems.join('; '));
  }

  /**
   * Installs the rules on `sequelize`: before any Flux row is destroyed (a bulk destroy runs the hook per
   * row), {@link applyRules} runs in the destroy's transaction.
   */
  attach(sequelize: Sequelize): void {
    sequelize.addHook('beforeBulkDestroy', 'fluxReferences', (options: { individualHooks?: boolean }) => {
      options.individualHooks = true;
    });
    sequelize.addHook('beforeDestroy', 'fluxReferences', (instance: Model, options: DestroyOptions) =>
      instance instanceof FluxModel ? this.applyRules(instance, options.transaction) : undefined,
    );
  }

  /**
   * Applies the rules of the references to `item`, before it is destroyed: refuses while a `restrict`
   * reference holds, then destroys the `cascade` rows and clears the `set null` attributes, through the
   * models, so that their own references are followed and each change is published (after the commit of
   * `transaction`; pass one, or the changes are not undone when the destroy fails). Rows of another
   * tenant are never touched.
   * @throws BadRequestError naming the referencing models (restrict).
   */
  async applyRules(item: FluxModel, transaction?: Transaction | null): Promise<void> {
    const references = this.referencesTo(item.constructor);
    if (!references.length) return;
    const refusal = await this.refusal(item, { transaction, rules: ['restrict'] });
    if (refusal) throw refusal;
    for (const reference of references) {
      const where = referencingWhere(item, reference.from, [reference.attribute]);
      if (reference.onDelete === 'cascade') await reference.from.destroy({ where, transaction });
      else if (reference.onDelete === 'set null')
        await reference.from.update({ [reference.attribute]: null } as never, { where, transaction });
    }
  }

  /**
   * The refusal of destroying `item` while rows of its tenant reference it through `rules` (default: any
   * rule), naming their models — "Team 3 is referenced by 2 User and 1 AlertButton: …" — or undefined
   * when none does. One count per referencing model.
   */
  async refusal(
    item: FluxModel,
    options: { transaction?: Transaction | null; rules?: readonly OnDelete[] } = {},
  ): Promise<BadRequestError | undefined> {
    const attributes = new Map<FluxModelClass, string[]>();
    for (const reference of this.referencesTo(item.constructor)) {
      if (options.rules && !options.rules.includes(reference.onDelete)) continue;
      attributes.set(reference.from, [...(attributes.get(reference.from) ?? []), reference.attribute]);
    }
    const counts: string[] = [];
    let total = 0;
    for (const [from, names] of attributes) {
      const where = referencingWhere(item, from, names);
      const count = await from.count({ where, transaction: options.transaction });
      if (count > 0) counts.push(`${count} ${from.name}`);
      total += count;
    }
    if (!counts.length) return undefined;
    const model = item.constructor as FluxModelClass;
    return new BadRequestError(
      `${model.name} ${String(item.get(model.primaryKeyAttribute))} is referenced by ${listing(counts)}: ` +
        `change or destroy ${total === 1 ? 'it' : 'them'} first`,
    );
  }
}

/** The rows of `from` in `item`'s tenant whose `attributes` (any of them) hold `item`'s id. */
function referencingWhere(item: FluxModel, from: FluxModelClass, attributes: string[]): WhereOptions {
  const model = item.constructor as FluxModelClass;
  const id = item.get(model.primaryKeyAttribute);
  const match =
    attributes.length === 1 ? { [attributes[0]]: id } : { [Op.or]: attributes.map((a) => ({ [a]: id })) };
  return (
    model.tenantScoped && from.tenantScoped ? { tenantId: item.get('tenantId'), ...match } : match
  ) as WhereOptions;
}

/**
 * Every single-column foreign key of the database's tables (current schema), or undefined for a
 * dialect Flux does not read (the check is skipped). One catalog query.
 */
export async function readForeignKeys(sequelize: Sequelize): Promise<ForeignKey[] | undefined> {
  const select = (sql: string) => sequelize.query<ForeignKey>(sql, { type: QueryTypes.SELECT });
  switch (sequelize.getDialect()) {
    case 'sqlite':
      return select(
        `SELECT m.name AS "table", f."from" AS "column", f."table" AS "target", f."to" AS "targetColumn"
         FROM sqlite_master m JOIN pragma_foreign_key_list(m.name) f
         WHERE m.type = 'table' AND NOT EXISTS
           (SELECT 1 FROM pragma_foreign_key_list(m.name) g WHERE g.id = f.id AND g.seq > 0)`,
      );
    case 'postgres':
      return select(
        `SELECT t.relname AS "table", a.attname AS "column", r.relname AS "target", ra.attname AS "targetColumn"
         FROM pg_constraint c
         JOIN pg_class t ON t.oid = c.conrelid
         JOIN pg_class r ON r.oid = c.confrelid
         JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = c.conkey[1]
         JOIN pg_attribute ra ON ra.attrelid = c.confrelid AND ra.attnum = c.confkey[1]
         WHERE c.contype = 'f' AND cardinality(c.conkey) = 1
           AND t.relnamespace = current_schema()::text::regnamespace`,
      );
    default:
      return undefined;
  }
}
