"""Video out to other software: NDI, a virtual camera. Each sink has a one-slot mailbox and a sender
thread of its own, so a slow receiver drops frames and never slows the generator."""
