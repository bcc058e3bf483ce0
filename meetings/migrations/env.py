"""Alembic environment: runs on the connection handed over by meetings.db.upgrade_schema."""
from alembic import context

from meetings.models import Base
import meetings.control_models  # noqa: F401  (registers the control-plane tables for autogenerate)
import meetings.transcript_models  # noqa: F401
import meetings.point_models  # noqa: F401  (operators of points, outages)
import meetings.minutes_models  # noqa: F401  (minutes: versions, signing)
import meetings.admin_models  # noqa: F401  (issued point tokens, mail queue)

connection = context.config.attributes["connection"]
context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
)
with context.begin_transaction():
    context.run_migrations()
