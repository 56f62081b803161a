# Reference values for alstrial's MMRM from nlme::gls (R, Debian r-cran-nlme) on fev_data.
# Unstructured covariance over AVISIT within USUBJID, REML and ML; reference levels as SAS.
# Run: Rscript tests/reference/fev_nlme.R ../shared/stats-reference/fev_data.csv > tests/reference/fev_nlme.csv
suppressMessages(library(nlme))
args <- commandArgs(trailingOnly = TRUE)
d <- read.csv(args[1])
d <- d[!is.na(d$FEV1), ]
d$RACE <- relevel(factor(d$RACE), ref = "Asian")
d$SEX <- relevel(factor(d$SEX), ref = "Male")
d$ARMCD <- relevel(factor(d$ARMCD), ref = "PBO")
d$AVISIT <- factor(d$AVISIT)
d$VISN <- as.integer(d$AVISIT)
out <- data.frame(quantity = character(), value = numeric())
add <- function(q, v) out[nrow(out) + 1, ] <<- list(q, v)
for (method in c("REML", "ML")) {
  fit <- gls(FEV1 ~ RACE + SEX + ARMCD * AVISIT, data = d, method = method,
             correlation = corSymm(form = ~ VISN | USUBJID),
             weights = varIdent(form = ~ 1 | AVISIT),
             control = glsControl(opt = "optim", msMaxIter = 1000, tolerance = 1e-10,
                                  optimMethod = "BFGS", msTol = 1e-10))
  add(paste0(method, ":-2loglik"), -2 * as.numeric(logLik(fit)))
  est <- coef(summary(fit))
  for (term in rownames(est)) {
    add(paste0(method, ":estimate:", term), est[term, "Value"])
    add(paste0(method, ":se:", term), est[term, "Std.Error"])
  }
  v <- getVarCov(fit, individual = d$USUBJID[d$USUBJID %in% names(which(table(d$USUBJID) == 4))][1])
  for (i in 1:4) for (j in i:4) add(sprintf("%s:sigma:%d,%d", method, i, j), v[i, j])
}
write.csv(out, stdout(), row.names = FALSE)
