import {
  type CreationOptional,
  DataTypes,
  type InferAttributes,
  type InferCreationAttributes,
  Model,
  Op,
  type Sequelize,
  type Transaction,
} from 'sequelize';
import { Flux } from '../../lib/Flux.js';

/**
 * The keys handed out by `POST /upload/presign` and not confirmed yet (table `PendingUploads`,
 * migrations/0010): the objects uploaded with them and never confirmed are found here, not by listing the
 * bucket (docs/escalation.md#housekeeping). A key leaves the table when it is confirmed
 * ({@link claimForConfirmation}) or cleaned up ({@link claimForCleanup}, then {@link forget}); whoever
 * claims it first wins, so a confirmation and a clean-up of one key never both succeed.
 */
class PendingUpload extends Model<InferAttributes<PendingUpload>, InferCreationAttributes<PendingUpload>> {
  declare key: string;
  declare expiresAt: Date;
  /** Set when the clean-up took the key: it can no longer be confirmed. */
  declare claimedAt: CreationOptional<Date | null>;
  declare createdAt: CreationOptional<Date>;
}

/** The databases the model is initialized on: each start opens a new one. */
const initialized = new WeakSet<Sequelize>();

/** The model on the running database (not a Flux model: server bookkeeping, never published). */
function pendingUploads(): typeof PendingUpload {
  const sequelize = Flux.sequelize;
  if (!initialized.has(sequelize)) {
    PendingUpload.init(
      {
        key: { type: DataTypes.STRING(512), allowNull: false, primaryKey: true },
        expiresAt: { type: DataTypes.DATE, allowNull: false },
        claimedAt: { type: DataTypes.DATE, allowNull: true },
        createdAt: DataTypes.DATE,
      },
      { sequelize, modelName: 'PendingUpload', tableName: 'PendingUploads', updatedAt: false },
    );
    initialized.add(sequelize);
  }
  return PendingUpload;
}

/** Records a key just handed out, whose pre-signed URL expires at `expiresAt`. */
export async function recordPresigned(key: string, expiresAt: Date): Promise<void> {
  await pendingUploads().create({ key, expiresAt });
}

/**
 * Takes `key` for its confirmation, in `transaction` (with the `Upload` row it becomes): true when it was
 * pending and not taken by the clean-up; false when it was never handed out, already confirmed or taken.
 */
export async function claimForConfirmation(key: string, transaction: Transaction): Promise<boolean> {
  return (await pendingUploads().destroy({ where: { key, claimedAt: null }, transaction })) === 1;
}

/**
 * Up to `limit` keys whose URL expired before `before`, oldest first: those claimed by an earlier,
 * interrupted clean-up come again.
 */
export async function expiredKeys(before: Date, limit: number): Promise<string[]> {
  const rows = await pendingUploads().findAll({
    attributes: ['key'],
    where: { expiresAt: { [Op.lt]: before } },
    order: [['expiresAt', 'ASC']],
    limit,
  });
  return rows.map((row) => row.key);
}

/**
 * Takes `key` for its clean-up: from now on it cannot be confirmed. True when the key is still pending
 * (taken now or by an earlier run that did not finish), false when it was confirmed meanwhile.
 */
export async function claimForCleanup(key: string, now: Date): Promise<boolean> {
  const model = pendingUploads();
  await model.update({ claimedAt: now }, { where: { key, claimedAt: null } });
  return (await model.count({ where: { key, claimedAt: { [Op.ne]: null } } })) === 1;
}

/** Drops `key` once its object is deleted. */
export async function forget(key: string): Promise<void> {
  await pendingUploads().destroy({ where: { key } });
}
