"""OpenAI-compatible Batch: ``/compatible-mode/v1/batches`` create, retrieve, list, cancel (reference §9.2-§9.6).

validating → in_progress → finalizing → completed, or failed (validation), cancelling → cancelled, or expired (its
lines, ``--batch-line-seconds`` each, outlast its completion window), on the emulated clock (``states``).  The
input file (a compatible Files upload with ``purpose: batch``) is checked line by line in a worker thread
(``lines.validate``); each valid line is then answered by the generation pipeline through one adapter
(``lines.compatible_chat_completion``) or by the embeddings service, in chunks that yield to the event loop, into a
private results file.  The output and error files (``file-batch_output-…``, in the tenant's Files store and quota)
are cut from it when the batch first reads final, so a cancel keeps the lines finished before it; under
``--workers N`` one process runs a batch's lines (a ``flock`` on a file beside its results: each process resumes
the open batches when it starts, and leaves those another holds), any may cut a due batch, and the one whose
write finalizes it names its files, the others delete theirs.  Each line meets the fault and response rules as
the request it stands for (``decide``).

``metadata.ds_batch_finish_callback`` is POSTed the batch object once, when the batch is finalized (``callbacks``):
in the background, to loopback hosts only unless ``--callback-host`` allows others; ``GET /_emulator/callbacks``
lists every attempt.  A batch with a callback is finalized by a timer on the running clock, a batch without one on
the read (or clock change) that finds it due.
"""
