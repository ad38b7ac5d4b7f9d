import type { CreateOptions, DestroyOptions, Model, Sequelize, Transaction, UpdateOptions } from 'sequelize';
import { FluxModel } from './FluxModel.js';
import { type ModelChange, type PubSub, sameGroups, type Verb } from './pubsub.js';

/**
 * Runs `fn` once the write's transaction commits (never after a rollback), or now without one. What `fn`
 * returns is awaited by the write (Sequelize awaits hooks, and `commit()` its after-commit callbacks):
 * return a promise to finish work before the write is acknowledged.
 */
export function afterCommit(
  options: { transaction?: Transaction | null },
  fn: () => void | Promise<void>,
): void | Promise<void> {
  if (options.transaction) options.transaction.afterCommit(fn);
  else return fn();
}

/** The change a write of `instance` publishes; undefined for a model that is not tenant-scoped. */
function changeOf(instance: FluxModel, verb: Verb): ModelChange | undefined {
  const model = instance.constructor as typeof FluxModel;
  if (!model.tenantScoped) return undefined;
  return {
    tenantId: instance.get('tenantId') as number,
    model: model.publicName,
    verb,
    id: instance.get('id') as number,
    data: instance.toJSON(),
  };
}

/** The item as it was before the pending update (`instance.previous()`), to compute the groups it had. */
function previousState(instance: FluxModel): FluxModel {
  const model = instance.constructor as typeof FluxModel & {
    build(values: object, options: object): FluxModel;
  };
  return model.build(
    { ...instance.get({ plain: true }), ...instance.previous() },
    { isNewRecord: false, raw: true },
  );
}

/**
 * Publishes an update of `instance` as the `afterUpdate` hook does: its values now, and its values before
 * (`instance.previous()`: the fields set since it was loaded) for the readers it had; once
 * `options.transaction` commits, or now. For writers that update rows without Sequelize's per-row hooks
 * (api/services/SessionActivityService.ts writes many rows in one statement, then publishes each row as the
 * statement returned it, or as read back).
 */
export function publishUpdate(
  pubsub: PubSub,
  instance: FluxModel,
  options: { transaction?: Transaction | null } = {},
): void | Promise<void> {
  const updated = changeOf(instance, 'updated');
  if (!updated) return;
  const before = previousState(instance);
  updated.groupsBefore = before.getReadGroups();
  updated.groupsAfter = instance.getReadGroups();
  if (!sameGroups(updated.groupsBefore, updated.groupsAfter)) updated.dataBefore = before.toJSON();
  return afterCommit(options, () => pubsub.publish(updated));
}

/**
 * Publishes every committed write of every tenant-scoped Flux model, whatever its origin (API, CLI,
 * service, job): the hooks are global to the Sequelize instance, so no controller publishes by hand.
 * Bulk writes are switched to per-row hooks so that each row is published. A write inside a transaction
 * is published after the commit, and never after a rollback.
 */
export function attachPublishHooks(sequelize: Sequelize, pubsub: PubSub): void {
  sequelize.addHook('beforeBulkCreate', (_instances: Model[], options: { individualHooks?: boolean }) => {
    options.individualHooks = true;
  });
  sequelize.addHook('beforeBulkUpdate', (options: { individualHooks?: boolean }) => {
    options.individualHooks = true;
  });
  sequelize.addHook('beforeBulkDestroy', (options: { individualHooks?: boolean }) => {
    options.individualHooks = true;
  });

  sequelize.addHook('afterCreate', (instance: Model, options: CreateOptions) => {
    if (!(instance instanceof FluxModel)) return;
    const created = changeOf(instance, 'created');
    if (!created) return;
    created.groupsAfter = instance.getReadGroups();
    afterCommit(options, () => pubsub.publish(created));
  });

  sequelize.addHook('afterUpdate', (instance: Model, options: UpdateOptions) => {
    if (!(instance instanceof FluxModel) || instance.changed() === false) return;
    publishUpdate(pubsub, instance, options);
  });

  sequelize.addHook('afterDestroy', (instance: Model, options: DestroyOptions) => {
    if (!(instance instanceof FluxModel)) return;
    const destroyed = changeOf(instance, 'destroyed');
    if (!destroyed) return;
    // Readers are computed from the row as it was: it is gone from the database now.
    destroyed.groupsBefore = instance.getReadGroups();
    afterCommit(options, () => pubsub.publish(destroyed));
  });
}
