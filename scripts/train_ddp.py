"""Train the course's GPT data-parallel: ``lessons_pkg.train_ddp`` as a script file.

    torchrun --standalone --nproc-per-node 2 scripts/train_ddp.py --steps 50

Options: ``--help`` (they are those of ``python -m lessons_pkg.train_ddp``).
"""

from lessons_pkg.train_ddp import main

if __name__ == "__main__":
    main()
