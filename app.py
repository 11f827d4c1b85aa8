"""Chalice entry point: the REST API and the routing worker, composed from their blueprints.

Chalice requires this file (and ``.chalice/``) at the repository root; the code lives in
``chalice_app/`` (REST) and ``workers/`` (queue consumers).
"""

from chalice import Chalice

from chalice_app.api import api
from workers.routing import worker

app = Chalice(app_name="switchboard")
app.register_blueprint(api)
app.register_blueprint(worker)
