"""The command lines, thin front ends of the API: ``sweep``, ``train``, ``figures``, what
they share (``common``) and how each is started (``launch``). ``python -m jaxmadrl.sweep``
(and ``.train``, ``.figures``) start them."""
