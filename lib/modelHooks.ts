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

/**
 * Publishes every committed write of every tenant-scoped Flux model, whatever its origin (API, CLI,
 * service, job): the hooks are global to the Sequelize instance, so no controller publishes by hand.
 * Bulk writes are switched to per-row hooks so that each row is published. A write inside a transaction
 * is published after the commit, and never after a rollback.
 */
export function attachPublishHooks(sequelize: Sequelize, pubsub: PubSub): void {
  const change = (instance: FluxModel, verb: Verb): ModelChange | undefined => {
    const model = instance.constructor as typeof FluxModel;
    if (!model.tenantScoped) return undefined;
    return {
      tenantId: instance.get('tenantId') as number,
      model: model.publicName,
      verb,
      id: instance.get('id') as number,
      data: instance.toJSON(),
    };
  };

  /** The item as it was before the pending update, to compute the groups it had. */
  const previousState = (instance: FluxModel): FluxModel => {
    const model = instance.constructor as typeof FluxModel & {
      build(values: object, options: object): FluxModel;
    };
    return model.build(
      { ...instance.get({ plain: true }), ...instance.previous() },
      { isNewRecord: false, raw: true },
    );
  };

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
    const created = change(instance, 'created');
    if (!created) return;
    created.groupsAfter = instance.getReadGroups();
    afterCommit(options, () => pubsub.publish(created));
  });

  sequelize.addHook('afterUpdate', (instance: Model, options: UpdateOptions) => {
    if (!(instance instanceof FluxModel) || instance.changed() === false) return;
    const updated = change(instance, 'updated');
    if (!updated) return;
    const before = previousState(instance);
    updated.groupsBefore = before.getReadGroups();
    updated.groupsAfter = instance.getReadGroups();
    if (!sameGroups(updated.groupsBefore, updated.groupsAfter)) updated.dataBefore = before.toJSON();
    afterCommit(options, () => pubsub.publish(updated));
  });

  sequelize.addHook('afterDestroy', (instance: Model, options: DestroyOptions) => {
    if (!(instance instanceof FluxModel)) return;
    const destroyed = change(instance, 'destroyed');
    if (!destroyed) return;
    // Readers are computed from the row as it was: it is gone from the database now.
    destroyed.groupsBefore = instance.getReadGroups();
    afterCommit(options, () => pubsub.publish(destroyed));
  });
}
