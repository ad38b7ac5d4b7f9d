import { DataTypes, Sequelize } from 'sequelize';
import { describe, expect, it } from 'vitest';
import type { FluxModelClass } from '../../lib/ModelController.js';
import { type ForeignKey, ModelReferenceError, ReferenceRules } from '../../lib/references.js';
import { toyModel } from '../helpers/toyModels.js';

/**
 * Reference declarations (`FluxModel.references`) as the start resolves and checks them
 * (lib/references.ts): against the models, their associations and the database's foreign keys.
 */

/** Toy models on a Sequelize that never connects: a library of shelves, books, loans and notes. */
function library(overrides: { book?: Record<string, unknown>; note?: Record<string, unknown> } = {}) {
  const sequelize = new Sequelize({ dialect: 'sqlite', storage: ':memory:', logging: false });
  const Shelf = toyModel(sequelize, 'Shelf');
  const Book = toyModel(
    sequelize,
    'Book',
    overrides.book ?? { shelfId: { model: 'Shelf', onDelete: 'cascade' } },
  );
  const Loan = toyModel(sequelize, 'Loan', { bookId: { model: 'Book', onDelete: 'restrict' } });
  const Note = toyModel(
    sequelize,
    'Note',
    overrides.note ?? {
      bookId: { model: 'Book', onDelete: 'set null' },
      shelfId: { model: 'Shelf', onDelete: 'cascade' },
    },
  );
  return { sequelize, models: { Shelf, Book, Loan, Note } as Record<string, FluxModelClass> };
}

/** The foreign keys the database of {@link library} has, as `readForeignKeys` reads them. */
const libraryKeys: ForeignKey[] = [
  { table: 'Books', column: 'shelfId', target: 'Shelfs', targetColumn: 'id' },
  { table: 'Loans', column: 'bookId', target: 'Books', targetColumn: 'id' },
  { table: 'Notes', column: 'bookId', target: 'Books', targetColumn: null },
  { table: 'Notes', column: 'shelfId', target: 'Shelfs', targetColumn: 'id' },
  // tenantId is Flux's: never declared, never reported
  { table: 'Books', column: 'tenantId', target: 'Shelfs', targetColumn: 'id' },
  // a table that is not a model's
  { table: 'Audit', column: 'bookId', target: 'Books', targetColumn: 'id' },
];

describe('ReferenceRules', () => {
  it('When references are declared right, then each is indexed by the model it references, cascades first', () => {
    const { models } = library();
    const rules = new ReferenceRules(models);
    expect(rules.all).toHaveLength(4);
    const described = (model: FluxModelClass) =>
      rules.referencesTo(model).map((r) => `${r.from.name}.${r.attribute} ${r.onDelete}`);
    expect(described(models.Shelf)).toEqual(['Note.shelfId cascade', 'Book.shelfId cascade']);
    expect(described(models.Book)).toEqual(['Loan.bookId restrict', 'Note.bookId set null']);
    expect(described(models.Loan)).toEqual([]);
  });

  it.each([
    [
      'names no model',
      { shelfId: { model: 'Cupboard', onDelete: 'cascade' } },
      /Book\.references\.shelfId: "Cupboard" is not a model/,
    ],
    ['has no model at all', { shelfId: 'Shelf' }, /Book\.references\.shelfId: "undefined" is not a model/],
    [
      'has an unknown rule',
      { shelfId: { model: 'Shelf', onDelete: 'CASCADE' } },
      /onDelete must be one of restrict, cascade, set null/,
    ],
    [
      'names tenantId',
      { tenantId: { model: 'Shelf', onDelete: 'cascade' } },
      /Book\.references\.tenantId: tenantId is managed by Flux/,
    ],
    [
      'names the primary key',
      { id: { model: 'Shelf', onDelete: 'cascade' } },
      /Book has no such foreign key attribute/,
    ],
  ])('When a declaration %s, then the start fails naming it', (_, book, message) => {
    expect(() => new ReferenceRules(library({ book }).models)).toThrow(ModelReferenceError);
    expect(() => new ReferenceRules(library({ book }).models)).toThrow(message);
  });

  it('When a declaration names an attribute the model does not define, then the start fails naming it', () => {
    const sequelize = new Sequelize({ dialect: 'sqlite', storage: ':memory:', logging: false });
    const Shelf = toyModel(sequelize, 'Shelf');
    const Book = toyModel(sequelize, 'Book');
    Book.references = { shelfId: { model: 'Shelf', onDelete: 'cascade' } };
    expect(() => new ReferenceRules({ Shelf, Book })).toThrow(
      'Book.references.shelfId: Book has no such foreign key attribute',
    );
  });

  it("When 'set null' is declared on an attribute that cannot be null, then the start fails", () => {
    const sequelize = new Sequelize({ dialect: 'sqlite', storage: ':memory:', logging: false });
    const Shelf = toyModel(sequelize, 'Shelf');
    const Book = toyModel(
      sequelize,
      'Book',
      { shelfId: { model: 'Shelf', onDelete: 'set null' } },
      { shelfId: { type: DataTypes.INTEGER, allowNull: false } },
    );
    expect(() => new ReferenceRules({ Shelf, Book })).toThrow(
      "Book.references.shelfId: 'set null' needs an attribute that allows null",
    );
  });

  it("When 'cascade' rules form a cycle, then the start fails; a 'restrict' or 'set null' on the way back is fine", () => {
    const cycle = library({
      book: {
        shelfId: { model: 'Shelf', onDelete: 'cascade' },
        noteId: { model: 'Note', onDelete: 'cascade' },
      },
      note: { bookId: { model: 'Book', onDelete: 'cascade' } },
    });
    expect(() => new ReferenceRules(cycle.models)).toThrow(
      /'cascade' rules form a cycle \((Book → Note → Book|Note → Book → Note)\)/,
    );
    const sequelize = new Sequelize({ dialect: 'sqlite', storage: ':memory:', logging: false });
    const Comment = toyModel(sequelize, 'Comment', { replyTo: { model: 'Comment', onDelete: 'cascade' } });
    expect(() => new ReferenceRules({ Comment })).toThrow(/cycle \(Comment → Comment\)/);
    const loop = library({
      book: {
        shelfId: { model: 'Shelf', onDelete: 'cascade' },
        noteId: { model: 'Note', onDelete: 'set null' },
      },
    });
    expect(() => new ReferenceRules(loop.models)).not.toThrow();
  });

  it('When an association joins another model than the declaration through the same key, then the start fails', () => {
    const { models } = library();
    models.Book.belongsTo(models.Loan, { as: 'shelf', foreignKey: 'shelfId', constraints: false });
    expect(() => new ReferenceRules(models)).toThrow(
      'Book.references.shelfId: names Shelf, but the association Book.shelf joins Loan through it',
    );
    const agreeing = library();
    agreeing.models.Book.belongsTo(agreeing.models.Shelf, {
      as: 'shelf',
      foreignKey: 'shelfId',
      constraints: false,
    });
    agreeing.models.Book.hasMany(agreeing.models.Loan, {
      as: 'loans',
      foreignKey: 'bookId',
      constraints: false,
    });
    expect(() => new ReferenceRules(agreeing.models)).not.toThrow();
  });
});

describe('ReferenceRules.checkForeignKeys', () => {
  it("When the database has the declared foreign keys (and tenantId's), then the check passes", () => {
    expect(() => new ReferenceRules(library().models).checkForeignKeys(libraryKeys)).not.toThrow();
  });

  it('When a foreign key between two models is not declared, then the start fails saying where to declare it', () => {
    const { models } = library({ note: { shelfId: { model: 'Shelf', onDelete: 'cascade' } } });
    models.Note.init(
      { ...models.Note.getAttributes(), bookId: { type: DataTypes.INTEGER, allowNull: true } },
      { sequelize: models.Note.sequelize!, modelName: 'Note', tableName: 'Notes' },
    );
    expect(() => new ReferenceRules(models).checkForeignKeys(libraryKeys)).toThrow(
      "Notes.bookId is a foreign key to Books: declare it in Note.references (bookId: { model: 'Book', onDelete: 'restrict' | 'cascade' | 'set null' })",
    );
  });

  it('When a foreign key is on a column the model does not define, then the start fails', () => {
    const keys = [
      ...libraryKeys,
      { table: 'Loans', column: 'shelfId', target: 'Shelfs', targetColumn: 'id' },
    ];
    expect(() => new ReferenceRules(library().models).checkForeignKeys(keys)).toThrow(
      'Loans.shelfId is a foreign key to Shelfs, but Loan has no attribute for it',
    );
  });

  it('When a declared reference has no foreign key, or one to another table or column, then the start fails naming it', () => {
    const rules = new ReferenceRules(library().models);
    const without = libraryKeys.filter((key) => !(key.table === 'Loans' && key.column === 'bookId'));
    expect(() => rules.checkForeignKeys(without)).toThrow(
      'references: Loan.references.bookId: the database has no foreign key Loans.bookId → Books (add it in a migration)',
    );
    const elsewhere = libraryKeys.map((key) =>
      key.table === 'Loans' && key.column === 'bookId' ? { ...key, target: 'Shelfs' } : key,
    );
    expect(() => rules.checkForeignKeys(elsewhere)).toThrow(
      'Loan.references.bookId names Book, but the foreign key references Shelfs',
    );
    const otherColumn = libraryKeys.map((key) =>
      key.table === 'Loans' && key.column === 'bookId' ? { ...key, targetColumn: 'shelfId' } : key,
    );
    expect(() => rules.checkForeignKeys(otherColumn)).toThrow(
      'Loans.bookId references Books.shelfId, not its primary key',
    );
  });
});
