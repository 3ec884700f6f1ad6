"""One model per server: an inference process the server owns, and the client kernels use instead of a copy.

Every dashboard kernel used to load its own model (~0.5 GB USS each). ``lungdx serve`` now starts
one inference process (:mod:`.process`) that loads the model once and answers analyse requests on
a Unix socket in a private (0700) folder, with a token; the server supervises it
(:mod:`lungdx_widgets.server.model_process`) and tells its kernels where it is through
:data:`ADDRESS_ENV`. :func:`lungdx_widgets.services.shared_model_service` then hands out a
:class:`.client.RemoteModelService`, which never imports torch. Without the variable (JupyterLab
outside ``lungdx serve``, the CLI, tests) the in-process model stays the default.
"""

#: Path of the inference process's Unix socket; set by the server for its kernels.
ADDRESS_ENV = "LUNGDX_MODEL_SERVICE"
#: Secret every request carries (the socket folder is private too: two locks, one per mistake).
TOKEN_ENV = "LUNGDX_MODEL_SERVICE_TOKEN"
TOKEN_HEADER = "X-LungDx-Token"
