// Shared by the peer servers of the benchmark: the Message table of Flux, the database, the JWT secret.
import { DataTypes, Sequelize } from 'sequelize';

export const SECRET = process.env.BENCH_JWT_SECRET;

export function openDatabase() {
  const url = process.env.BENCH_DB_URL;
  const sequelize = new Sequelize(url, { logging: false, pool: { max: 10 } });
  const Message = sequelize.define(
    'Message',
    {
      id: { type: DataTypes.INTEGER, autoIncrement: true, primaryKey: true },
      tenantId: { type: DataTypes.INTEGER, allowNull: false },
      text: { type: DataTypes.TEXT, allowNull: false },
      channel: { type: DataTypes.STRING(120), allowNull: false },
      userId: { type: DataTypes.INTEGER, allowNull: true },
    },
    { tableName: 'Messages' },
  );
  return { sequelize, Message };
}

/** Tells the orchestrator the server is up: `ready <port> <token>`. */
export function ready(port, token = '-') {
  process.stdout.write(`ready ${port} ${token}\n`);
}
