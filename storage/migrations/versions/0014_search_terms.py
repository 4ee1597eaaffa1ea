"""Search keeps the list of words its full-text index holds, so a prefix becomes those words.

A prefix query (``"kurdistan"*`` in FTS5, ``kurdistan:*`` in PostgreSQL) gathers every
match of every word with that prefix before the first row comes back: about 16 ms for a
word in half of a million stories, whatever the LIMIT. The same words named one by one
(``"kurdistan" OR "kurdistani"``) are read lazily, newest first, and stop at the LIMIT.
``story_term`` holds every word the index has ever held (words of pruned stories stay: they
match nothing), and the engine's own tokenizer fills it, so it never disagrees with the
index:

- SQLite: each new or edited story's text also goes through a small contentless FTS5 table
  with the index's tokenizer, whose vocabulary (``fts5vocab``) is then this one story's
  words; the trigger copies them into ``story_term`` and empties the table again.
- PostgreSQL: the lexemes of the generated ``search_vector``, once per INSERT statement
  (a transition table) and per edited story. No unique key: two concurrent ingestions may
  both add a brand-new word (read with DISTINCT), instead of one waiting on the other.

SQLite also gets ``ix_story_edition_id`` (edition, id), with which a search within some
editions skips the ids of other editions' stories.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-07
"""

from __future__ import annotations

from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

# story_fts's tokenizer (0001): the stage must split and fold words exactly as it does.
_SQLITE_TOKENIZER = "unicode61 remove_diacritics 0"


def upgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        _upgrade_postgresql()
    else:
        _upgrade_sqlite()


def _upgrade_sqlite() -> None:
    op.execute("CREATE TABLE story_term (term TEXT PRIMARY KEY) WITHOUT ROWID")
    op.execute(
        "CREATE VIRTUAL TABLE story_term_stage USING fts5(search_text, content='', "
        f"columnsize=0, detail='none', tokenize='{_SQLITE_TOKENIZER}')"
    )
    op.execute(
        "CREATE VIRTUAL TABLE story_term_stage_vocab USING fts5vocab(story_term_stage, 'row')"
    )
    # FTS5 reads its pending rows when queried, so the vocabulary right after the INSERT
    # is this story's words; 'delete-all' leaves the stage empty for the next row.
    for name, event in (
        ("story_term_insert", "INSERT"),
        ("story_term_update", "UPDATE OF search_text"),
    ):
        op.execute(
            f"CREATE TRIGGER {name} AFTER {event} ON story BEGIN "
            "INSERT INTO story_term_stage(rowid, search_text) VALUES (new.id, new.search_text); "
            "INSERT OR IGNORE INTO story_term(term) SELECT term FROM story_term_stage_vocab; "
            "INSERT INTO story_term_stage(story_term_stage) VALUES ('delete-all'); END"
        )
    op.execute("CREATE VIRTUAL TABLE temp.story_fts_words USING fts5vocab(main, story_fts, 'row')")
    op.execute("INSERT INTO story_term(term) SELECT term FROM temp.story_fts_words")
    op.execute("DROP TABLE temp.story_fts_words")
    op.execute("CREATE INDEX ix_story_edition_id ON story (edition, id)")


def _upgrade_postgresql() -> None:
    # COLLATE "C": byte order, so "every word starting with p" is one index range.
    op.execute('CREATE TABLE story_term (term text COLLATE "C" NOT NULL)')
    op.execute("CREATE INDEX ix_story_term ON story_term (term)")
    adding = (
        "INSERT INTO story_term (term) SELECT DISTINCT w.lexeme FROM {rows}, "
        "unnest({vector}) AS w WHERE NOT EXISTS "
        "(SELECT 1 FROM story_term t WHERE t.term = w.lexeme);"
    )
    op.execute(
        "CREATE FUNCTION story_term_add_inserted() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        + adding.format(rows="story_term_inserted AS s", vector="s.search_vector")
        + " RETURN NULL; END $$"
    )
    op.execute(
        "CREATE FUNCTION story_term_add_edited() RETURNS trigger LANGUAGE plpgsql AS $$ "
        "BEGIN "
        + adding.format(rows="(SELECT NEW.search_vector AS v) AS s", vector="s.v")
        + " RETURN NULL; END $$"
    )
    op.execute(
        "CREATE TRIGGER story_term_insert AFTER INSERT ON story "
        "REFERENCING NEW TABLE AS story_term_inserted FOR EACH STATEMENT "
        "EXECUTE FUNCTION story_term_add_inserted()"
    )
    op.execute(
        "CREATE TRIGGER story_term_update AFTER UPDATE OF search_text ON story FOR EACH ROW "
        "WHEN (OLD.search_text IS DISTINCT FROM NEW.search_text) "
        "EXECUTE FUNCTION story_term_add_edited()"
    )
    op.execute(
        "INSERT INTO story_term (term) SELECT DISTINCT w.lexeme "
        "FROM story, unnest(story.search_vector) AS w"
    )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER IF EXISTS story_term_update ON story")
        op.execute("DROP TRIGGER IF EXISTS story_term_insert ON story")
        op.execute("DROP FUNCTION IF EXISTS story_term_add_edited()")
        op.execute("DROP FUNCTION IF EXISTS story_term_add_inserted()")
        op.execute("DROP TABLE IF EXISTS story_term")
        return
    op.execute("DROP INDEX IF EXISTS ix_story_edition_id")
    op.execute("DROP TRIGGER IF EXISTS story_term_update")
    op.execute("DROP TRIGGER IF EXISTS story_term_insert")
    op.execute("DROP TABLE IF EXISTS story_term_stage_vocab")
    op.execute("DROP TABLE IF EXISTS story_term_stage")
    op.execute("DROP TABLE IF EXISTS story_term")
