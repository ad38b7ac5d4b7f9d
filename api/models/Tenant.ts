import {
  type CreationOptional,
  DataTypes,
  type InferAttributes,
  type InferCreationAttributes,
} from 'sequelize';
import { FluxModel } from '../../lib/FluxModel.js';

/**
 * An event sharing the server (docs/reference.md#tenants). The `default` tenant is the platform operator's:
 * its teams holding `tenant/admin` administer every tenant.
 */
export class Tenant extends FluxModel<InferAttributes<Tenant>, InferCreationAttributes<Tenant>> {
  declare id: CreationOptional<number>;
  declare name: string;
  declare slug: string;
  declare settings: CreationOptional<Record<string, unknown>>;
  declare createdAt: CreationOptional<Date>;
  declare updatedAt: CreationOptional<Date>;

  static override tenantScoped = false;
  static override permissionLevels = ['admin'];
  static override writableAttributes = ['name', 'slug', 'settings'];
  static override modelAttributes = {
    id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
    name: { type: DataTypes.STRING(200), allowNull: false, validate: { len: [1, 200] as [number, number] } },
    slug: {
      type: DataTypes.STRING(63),
      allowNull: false,
      unique: true,
      validate: { is: /^[a-z0-9-]{1,63}$/ },
    },
    settings: { type: DataTypes.JSON, allowNull: false, defaultValue: {} },
    createdAt: DataTypes.DATE,
    updatedAt: DataTypes.DATE,
  };
}
