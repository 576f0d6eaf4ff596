"""What a study computes: a sweep's definition (``definition``), every setting by name
(``settings``), lanes as one compiled program (``lanes``) and the host-side summary of each
lane and the stopping tables (``results``)."""
