"""The text side of a check: the names (``names``, ``pool``, ``paper``), the prompt templates,
which names fit the model's tokenizer (``name_fit``), and the prompts' embeddings — cached on disk
(``cache``), encoded once per process (``jobs``), assembled per pool (``embeddings``)."""
