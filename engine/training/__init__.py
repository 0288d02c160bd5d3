"""Training our streaming VAE: on a folder of recordings (`run_engine.py train`) or, through the thin
script `training/train_default_model.py`, on the procedural corpus of the default model.

audio_folder.py reads a folder into mono clips at the model's rate; clip_pool.py crops training
examples from a renewed pool of clips; losses.py holds the loss; model_rate.py retunes the
architecture to another sample rate; init_weights.py starts from an export's weights; trainer.py
is the loop (checkpoints, resume, Ctrl-C, DistributedDataParallel under torchrun); export.py fits
the latent rotation and statistics and writes the nn~ file with its energy calibration; report.py
measures an export and writes its card; train_folder.py is the `train` command. Nothing here runs
in a live set.
"""
