"""The environments a program trains in: the project's MEC offloading world (``mec``), and
gymnax / JaxMARL environments adapted to one interface (``domains``). Pure, jittable
``reset`` / ``step``; nothing here knows of a learner."""
