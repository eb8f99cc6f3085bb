"""Month-scale correctness test: a month of disordered events (``feed``) and an
independent computation of what the pipeline must report for them (``oracle``)."""
