"""Chalice entry point: the REST API and the queue and scheduled workers, composed from their blueprints.

Chalice requires this file (and ``.chalice/``) at the repository root; the code lives in ``chalice_app/`` (REST)
and ``workers/`` (queue consumers, the stuck-ticket sweep, the sync to the ticketing system). Nothing else imports
``chalice_app``.
"""

from chalice import Chalice

from chalice_app.api import api
from workers.agent import agent_worker
from workers.routing import worker
from workers.sweep import sweeper
from workers.sync import sync_worker

# Every module logs through its own Powertools logger; Chalice's app logger (named "switchboard", at ERROR unless
# debug) would otherwise also silence the INFO and WARNING lines of every "switchboard.*" logger.
app = Chalice(app_name="switchboard", configure_logs=False)
app.register_blueprint(api)
app.register_blueprint(worker)
app.register_blueprint(agent_worker)
app.register_blueprint(sweeper)
app.register_blueprint(sync_worker)
