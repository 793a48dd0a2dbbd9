"""Attendance marked by the coordinators after a session, and the lists that show it.

- attendance.presence, presence_by, presence_at: present, absent or excused, who marked it and
  when (a coordinator presses it on the list posted to the staff chat after the session).
  A row can now hold a mark without an answer to a reminder: answer and at may be empty.
- attendance_sheet: which staff-chat messages show a session's list (by part, 25 people a
  message), so a press edits them and erasing a person edits them without that person.

Revision ID: 0005
Revises: 0004
"""
from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("attendance") as b:
        b.alter_column("answer", existing_type=sa.String(length=16), nullable=True)
        b.alter_column("at", existing_type=sa.DateTime(timezone=True), nullable=True)
        b.add_column(sa.Column("presence", sa.String(length=16), nullable=True))
        b.add_column(sa.Column("presence_by", sa.BigInteger(), nullable=True))
        b.add_column(sa.Column("presence_at", sa.DateTime(timezone=True), nullable=True))
    op.create_table(
        "attendance_sheet",
        sa.Column("chat_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("message_id", sa.BigInteger(), autoincrement=False, nullable=False),
        sa.Column("session_id", sa.Integer(), nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("chat_id", "message_id"))
    op.create_index("ix_attendance_sheet_session_id", "attendance_sheet", ["session_id"])


def downgrade() -> None:
    op.drop_index("ix_attendance_sheet_session_id", table_name="attendance_sheet")
    op.drop_table("attendance_sheet")
    op.execute("DELETE FROM attendance WHERE answer IS NULL OR at IS NULL")
    with op.batch_alter_table("attendance") as b:
        b.drop_column("presence_at")
        b.drop_column("presence_by")
        b.drop_column("presence")
        b.alter_column("at", existing_type=sa.DateTime(timezone=True), nullable=False)
        b.alter_column("answer", existing_type=sa.String(length=16), nullable=False)
