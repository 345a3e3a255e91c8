SELECT max(horizon_unix_nano), count() FROM lambdascope.view_horizons WHERE view = ?
