/* format.c: placeholder. */
