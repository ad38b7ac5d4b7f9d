import { DataTypes, ForeignKeyConstraintError, type Sequelize } from 'sequelize';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { BadRequestError } from '../../lib/errors.js';
import type { FluxModel } from '../../lib/FluxModel.js';
import type { FluxModelClass } from '../../lib/ModelController.js';
import { attachPublishHooks } from '../../lib/modelHooks.js';
import type { ModelChange, PubSub } from '../../lib/pubsub.js';
import { ReferenceRules, readForeignKeys } from '../../lib/references.js';
import { openTestDatabase } from '../helpers/server.js';
import { toyModel } from '../helpers/toyModels.js';

/**
 * The rules of declared references (lib/references.ts) on toy models of the framework alone, on a real
 * database (SQLite, or PostgreSQL with DATABASE_URL): a shelf's books go with it (`cascade`), a book's
 * notes stay without it (`set null`), a lent book cannot go (`restrict`). Changes are published through
 * the real publish hooks, to a recorder.
 */

let database: Awaited<ReturnType<typeof openTestDatabase>>;
let sequelize: Sequelize;
let Shelf: FluxModelClass;
let Book: FluxModelClass;
let Loan: FluxModelClass;
let Note: FluxModelClass;
const published: ModelChange[] = [];

/** A nullable integer attribute with a foreign key to `table`, as a migration would declare it. */
const key = (table: string) => ({
  type: DataTypes.INTEGER,
  allowNull: true,
  references: { model: table, key: 'id' },
});

beforeAll(async () => {
  database = await openTestDatabase();
  sequelize = database.sequelize;
  Shelf = toyModel(sequelize, 'Shelf');
  Book = toyModel(
    sequelize,
    'Book',
    { shelfId: { model: 'Shelf', onDelete: 'cascade' } },
    { shelfId: key('Shelfs') },
  );
  Loan = toyModel(
    sequelize,
    'Loan',
    { bookId: { model: 'Book', onDelete: 'restrict' } },
    { bookId: key('Books') },
  );
  Note = toyModel(
    sequelize,
    'Note',
    { bookId: { model: 'Book', onDelete: 'set null' } },
    { bookId: key('Books') },
  );
  await sequelize.sync();
  const rules = new ReferenceRules({ Shelf, Book, Loan, Note });
  rules.checkForeignKeys((await readForeignKeys(sequelize))!);
  const recorder = { publish: (change: ModelChange) => published.push(change) };
  attachPublishHooks(sequelize, recorder as unknown as PubSub);
  rules.attach(sequelize);
});

afterAll(async () => {
  await database?.close();
});

beforeEach(() => {
  published.length = 0;
});

const create = (model: FluxModelClass, values: Record<string, unknown>) =>
  model.create({ tenantId: 1, ...values } as never) as Promise<FluxModel>;
const reload = (model: FluxModelClass, row: FluxModel) => model.findByPk(row.get('id') as number);
const events = () => published.map((c) => `${c.model} ${c.verb} ${c.id}`).sort();

/** A shelf with two books, a note on the first and, unless `lent` is false, a loan of the second. */
async function shelfOfBooks(lent = true) {
  const shelf = await create(Shelf, {});
  const first = await create(Book, { shelfId: shelf.get('id') });
  const second = await create(Book, { shelfId: shelf.get('id') });
  const note = await create(Note, { bookId: first.get('id') });
  const loan = lent ? await create(Loan, { bookId: second.get('id') }) : undefined;
  published.length = 0;
  return { shelf, first, second, note, loan };
}

describe('declared references on delete', () => {
  it('When the database is read, then its foreign keys are the declared ones', async () => {
    const keys = (await readForeignKeys(sequelize))!.map((k) => `${k.table}.${k.column} → ${k.target}`);
    expect(keys.sort()).toEqual(['Books.shelfId → Shelfs', 'Loans.bookId → Books', 'Notes.bookId → Books']);
  });

  it("When a destroy meets a 'restrict' down a cascade, then it is refused naming the referencing model, nothing changes, nothing is published", async () => {
    const { shelf, first, second, note } = await shelfOfBooks();
    const destroy = sequelize.transaction((transaction) => shelf.destroy({ transaction }));
    await expect(destroy).rejects.toThrow(BadRequestError);
    await expect(destroy).rejects.toThrow(
      `Book ${second.get('id')} is referenced by 1 Loan: change or destroy it first`,
    );
    for (const [model, row] of [
      [Shelf, shelf],
      [Book, first],
      [Book, second],
    ] as const)
      expect(await reload(model, row)).not.toBeNull();
    expect((await reload(Note, note))!.get('bookId')).toBe(first.get('id'));
    expect(published).toEqual([]);
  });

  it("When 'cascade' and 'set null' apply, then the rows follow in the destroy's transaction, published after its commit", async () => {
    const { shelf, first, second, note } = await shelfOfBooks(false);
    await sequelize.transaction(async (transaction) => {
      await shelf.destroy({ transaction });
      expect(published, 'nothing before the commit').toEqual([]);
    });
    expect(await reload(Book, first)).toBeNull();
    expect(await reload(Book, second)).toBeNull();
    expect((await reload(Note, note))!.get('bookId')).toBeNull();
    expect(events()).toEqual(
      [
        `book destroyed ${first.get('id')}`,
        `book destroyed ${second.get('id')}`,
        `note updated ${note.get('id')}`,
        `shelf destroyed ${shelf.get('id')}`,
      ].sort(),
    );
    const update = published.find((c) => c.model === 'note')!;
    expect(update.data).toMatchObject({ id: note.get('id'), bookId: null });
  });

  it('When the destroy fails after the rules ran, then what they changed is rolled back and nothing is published', async () => {
    const { shelf, first, note } = await shelfOfBooks(false);
    Shelf.addHook('afterDestroy', 'failing', () => {
      throw new Error('the disk is full');
    });
    try {
      await expect(sequelize.transaction((transaction) => shelf.destroy({ transaction }))).rejects.toThrow(
        'the disk is full',
      );
    } finally {
      Shelf.removeHook('afterDestroy', 'failing');
    }
    expect(await reload(Book, first)).not.toBeNull();
    expect((await reload(Note, note))!.get('bookId')).toBe(first.get('id'));
    expect(published).toEqual([]);
  });

  it('When rows are destroyed in bulk, then the rules apply to each', async () => {
    const { shelf, first, note } = await shelfOfBooks(false);
    await Shelf.destroy({ where: { id: shelf.get('id') } });
    expect(await reload(Book, first)).toBeNull();
    expect((await reload(Note, note))!.get('bookId')).toBeNull();
    expect(events()).toContain(`note updated ${note.get('id')}`);
  });

  it('When a row of another tenant references the destroyed row, then the rules leave it alone (the database refuses)', async () => {
    const shelf = await create(Shelf, {});
    const foreign = await create(Book, { tenantId: 2, shelfId: shelf.get('id') });
    published.length = 0;
    await expect(sequelize.transaction((transaction) => shelf.destroy({ transaction }))).rejects.toThrow(
      ForeignKeyConstraintError,
    );
    expect((await reload(Book, foreign))!.get('shelfId')).toBe(shelf.get('id'));
    expect(published).toEqual([]);
  });
});
