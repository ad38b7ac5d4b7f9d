import { setTextCollation } from '../lib/database.js';
import type { MigrationContext } from '../lib/migrator.js';

/**
 * PostgreSQL: every text column compares and sorts by code point (collation "C"), as SQLite does, so that
 * `find` answers the same on both databases and a client evaluating a filter or a sort locally agrees
 * with the server (docs/protocol.md "Filters and sort, exactly"). The database's own collation
 * (`en_US.UTF-8`, …) would sort `"b" < "C"` and compare with rules a client cannot know. SQLite: nothing.
 */

export async function up({ context: { sequelize } }: { context: MigrationContext }): Promise<void> {
  await setTextCollation(sequelize, 'C');
}

export async function down({ context: { sequelize } }: { context: MigrationContext }): Promise<void> {
  await setTextCollation(sequelize, 'default');
}
