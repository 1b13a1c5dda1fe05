"""Pure numerical solvers: numpy/scipy only, no I/O, no estimator state; one folder a rung.

* :mod:`~kmix.solvers.em`: the EM loop of the general mixtures, the SQUAREM
  multi-start driver, k-means++ seeding and the weights-only Newton polish;
* :mod:`~kmix.solvers.coins`: k-MixIID (the k-coin problem);
* :mod:`~kmix.solvers.latent_class`: k-MixProd (latent class models);
* :mod:`~kmix.solvers.bayesnet`: k-MixBND (mixtures of Bayesian networks);
* :mod:`~kmix.solvers.linalg`: Hungarian matching and simplex projection.

Each rung's subpackage exposes its pure entry point; the modules inside
hold the pieces.
"""
