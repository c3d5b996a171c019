"""drsn training side: the log-mel front end (frontend), the DRSN reference
network (model) and its safetensors export. Run with Debian's /usr/bin/python3
(python3-torch, python3-torchaudio)."""
