# nlme::gls timings for bench/bench_mmrm.py: unstructured covariance (corSymm + varIdent), REML.
# Usage: Rscript bench/mmrm_nlme.R fev|bcva DATA.csv RUNS ; prints one line "seconds=<median>".
suppressMessages(library(nlme))
args <- commandArgs(trailingOnly = TRUE)
which <- args[1]; d <- read.csv(args[2]); runs <- as.integer(args[3])
if (which == "fev") {
  d <- d[!is.na(d$FEV1), ]
  d$VISN <- as.integer(factor(d$AVISIT))
  fit <- function() gls(FEV1 ~ RACE + SEX + ARMCD * AVISIT, data = d, method = "REML",
                        correlation = corSymm(form = ~ VISN | USUBJID),
                        weights = varIdent(form = ~ 1 | AVISIT))
} else {
  d <- d[!is.na(d$BCVA_CHG), ]
  d$VISN <- as.integer(factor(d$AVISIT))
  fit <- function() gls(BCVA_CHG ~ BCVA_BL + RACE + ARMCD * AVISIT, data = d, method = "REML",
                        correlation = corSymm(form = ~ VISN | USUBJID),
                        weights = varIdent(form = ~ 1 | AVISIT))
}
times <- numeric(runs)
for (i in seq_len(runs)) {
  started <- proc.time()[["elapsed"]]
  m <- fit()
  times[i] <- proc.time()[["elapsed"]] - started
}
cat(sprintf("seconds=%.6f\n", median(times)))
cat(sprintf("m2loglik=%.8f\n", -2 * as.numeric(logLik(m))))
