"""jaxmadrl: vectorised JAX Client-Master multi-agent deep RL for mobile-edge-computing offloading."""
