# Reference values for alstrial's random intercept and slope model: lmerTest (Debian
# r-cran-lmertest 3.1-3) on a simulated lead-in trial. Writes lmm_data.csv and lmm_lmertest.csv.
# Run from the repository root: Rscript tests/reference/lmm_lmertest.R
suppressMessages(library(lmerTest))
set.seed(20261124)
times <- c(-1.5, -1, -0.5, -0.25, 2, 4, 6, 12)
n <- 60
rows <- list()
for (i in 1:n) {
  arm <- if (i <= 30) "IT" else "IV"
  b0 <- rnorm(1, 0, 3); b1 <- rnorm(1, 0, 0.4)
  pre <- -0.9; post <- if (arm == "IT") -0.6 else -1.0
  for (t in times) {
    if (t > 0 && runif(1) < 0.12) next
    mu <- 38 + b0 + (pre + b1) * t + (post - pre) * max(t, 0)
    rows[[length(rows) + 1]] <- data.frame(id = sprintf("S%02d", i), arm = arm, months = t,
                                           score = mu + rnorm(1, 0, 1.5))
  }
}
d <- do.call(rbind, rows)
write.csv(d, "tests/reference/lmm_data.csv", row.names = FALSE)
out <- data.frame(quantity = character(), value = numeric())
add <- function(q, v) out[nrow(out) + 1, ] <<- list(q, v)
d$arm <- factor(d$arm)
d$post_administration <- pmax(d$months, 0)
models <- list(slope = score ~ arm * months + (months | id),
               piecewise = score ~ arm * (months + post_administration) + (months | id))
for (name in names(models)) {
  fit <- lmer(models[[name]], data = d, REML = TRUE,
              control = lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5)))
  add(paste0(name, ":-2reml"), REMLcrit(fit))
  s <- coef(summary(fit, ddf = "Satterthwaite"))
  for (term in rownames(s)) {
    add(paste0(name, ":estimate:", term), s[term, "Estimate"])
    add(paste0(name, ":se:", term), s[term, "Std. Error"])
    add(paste0(name, ":df:", term), s[term, "df"])
  }
  vc <- as.data.frame(VarCorr(fit))
  add(paste0(name, ":G11"), vc$vcov[1]); add(paste0(name, ":G22"), vc$vcov[2])
  add(paste0(name, ":G21"), vc$vcov[3]); add(paste0(name, ":s2"), vc$vcov[4])
}
write.csv(out, "tests/reference/lmm_lmertest.csv", row.names = FALSE)
