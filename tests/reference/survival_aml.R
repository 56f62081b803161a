# Reference values for alstrial's Kaplan-Meier and log-rank: R survival (Debian r-cran-survival)
# on its aml data (acute myelogenous leukaemia, maintained vs not). Writes aml.csv (the data)
# and survival_aml.csv (the results).
# Run from the repository root: Rscript tests/reference/survival_aml.R
suppressMessages(library(survival))
write.csv(aml, "tests/reference/aml.csv", row.names = FALSE)
out <- data.frame(quantity = character(), value = numeric())
add <- function(q, v) out[nrow(out) + 1, ] <<- list(q, v)
for (type in c("log", "log-log", "plain")) {
  fit <- survfit(Surv(time, status) ~ x, data = aml, conf.type = type)
  s <- summary(fit)
  for (i in seq_along(s$time)) {
    key <- sprintf("%s:%s:%g", type, sub("x=", "", as.character(s$strata[i])), s$time[i])
    add(paste0(key, ":surv"), s$surv[i]); add(paste0(key, ":se"), s$std.err[i])
    add(paste0(key, ":lower"), s$lower[i]); add(paste0(key, ":upper"), s$upper[i])
    add(paste0(key, ":n.risk"), s$n.risk[i])
  }
  tab <- summary(fit)$table
  for (g in rownames(tab)) {
    add(sprintf("%s:%s:median", type, sub("x=", "", g)), tab[g, "median"])
    add(sprintf("%s:%s:median_lcl", type, sub("x=", "", g)), tab[g, "0.95LCL"])
    add(sprintf("%s:%s:median_ucl", type, sub("x=", "", g)), tab[g, "0.95UCL"])
  }
}
test <- survdiff(Surv(time, status) ~ x, data = aml)
add("logrank:chisq", test$chisq)
add("logrank:expected:Maintained", test$exp[1]); add("logrank:expected:Nonmaintained", test$exp[2])
write.csv(out, "tests/reference/survival_aml.csv", row.names = FALSE)
