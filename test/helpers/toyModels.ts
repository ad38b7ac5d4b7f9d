import { DataTypes, type ModelAttributes, type ModelOptions, type Sequelize } from 'sequelize';
import { FluxModel, type References } from '../../lib/FluxModel.js';
import type { FluxModelClass } from '../../lib/ModelController.js';

/**
 * A tenant-scoped toy model `name` initialized on `sequelize` (its table is `<name>s`): `id`, `tenantId`,
 * a nullable integer attribute per declared reference, then `attributes` (which may redefine them, e.g.
 * with a `references` clause so that `sync()` creates the foreign key), defined with `options` (Sequelize's
 * model options: `version`, `hasTrigger`, …). For tests of the framework alone, without the application's
 * models.
 */
export function toyModel(
  sequelize: Sequelize,
  name: string,
  references: Record<string, unknown> = {},
  attributes: ModelAttributes = {},
  options: Partial<ModelOptions> = {},
): FluxModelClass {
  const model = class extends FluxModel {};
  Object.defineProperty(model, 'name', { value: name });
  model.references = references as References;
  const keys = Object.fromEntries(
    Object.keys(references)
      .filter((key) => key !== 'id' && key !== 'tenantId')
      .map((key) => [key, { type: DataTypes.INTEGER, allowNull: true }]),
  );
  model.init(
    {
      id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
      tenantId: { type: DataTypes.INTEGER, allowNull: false },
      ...keys,
      ...attributes,
    },
    { sequelize, modelName: name, tableName: `${name}s`, ...options },
  );
  return model as unknown as FluxModelClass;
}
