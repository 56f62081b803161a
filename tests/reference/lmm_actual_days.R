# Reference values for alstrial's mixed models on actual visit days (issue 13): lmerTest
# (Satterthwaite, and Kenward-Roger through pbkrtest, which uses the expected information)
# on a simulated two-arm ALS trial whose visits fall on actual days around a nominal schedule
# (window +-10 days) with informative-looking dropout, 90 subjects. Debian r-cran-lmertest
# 3.1-3, r-cran-pbkrtest 0.5.2, r-cran-lme4 1.1-31.
# lme4 is fitted on time in years (day / 365.25): on days it warns "failed to converge" and
# "nearly unidentifiable - rescale variables?" and stops short. alstrial fits both and must
# agree on years directly and on days after the exact change of units (t, F and df are
# unchanged; day coefficients and their SEs divide by 365.25, the slope variance by 365.25^2).
# Run from the repository root: Rscript tests/reference/lmm_actual_days.R
# Writes tests/reference/lmm_days.csv (the data) and tests/reference/lmm_days_lmertest.csv.
suppressMessages({
  library(lmerTest)
  library(pbkrtest)
})
set.seed(20261202)
nominal <- c(-84, -42, 0, 30, 90, 180, 270, 365)
rows <- list()
for (i in 1:90) {
  arm <- if (i %% 2 == 0) "IT" else "IV"
  b <- MASS::mvrnorm(1, c(0, 0, 0),
                     matrix(c(16, -0.01, 0, -0.01, 2.5e-5, 0, 0, 0, 1e-10), 3))
  dropout <- if (runif(1) < 0.3) sample(c(90, 180, 270), 1) else Inf
  for (day in nominal) {
    actual <- if (day == 0) 0 else day + sample(-10:10, 1)
    if (actual > dropout) next
    slope <- -0.03 + if (arm == "IT") 0.008 else 0
    mu <- 38 + b[1] + (slope + b[2]) * actual + b[3] * actual^2 +
      0.004 * max(actual, 0) * (arm == "IT")
    rows[[length(rows) + 1]] <- data.frame(id = sprintf("P%03d", i), arm = arm, day = actual,
                                           score = round(mu + rnorm(1, 0, 1.8), 2))
  }
}
d <- do.call(rbind, rows)
write.csv(d, "tests/reference/lmm_days.csv", row.names = FALSE)
d$arm <- factor(d$arm)
d$year <- d$day / 365.25
d$post_administration <- pmax(d$year, 0)
out <- data.frame(quantity = character(), value = numeric())
add <- function(q, v) out[nrow(out) + 1, ] <<- list(q, v)
models <- list(
  slope = score ~ arm * year + (year | id),
  independent = score ~ arm * year + (year || id),
  intercept = score ~ arm * year + (1 | id),
  piecewise = score ~ arm * (year + post_administration) + (year | id)
)
control <- lmerControl(optimizer = "bobyqa", optCtrl = list(maxfun = 1e5, rhoend = 1e-12))
for (name in names(models)) {
  for (reml in c(TRUE, FALSE)) {
    tag <- paste0(name, if (reml) ":REML" else ":ML")
    fit <- lmer(models[[name]], data = d, REML = reml, control = control)
    add(paste0(tag, ":-2loglik"), if (reml) REMLcrit(fit) else deviance(fit))
    s <- coef(summary(fit, ddf = "Satterthwaite"))
    for (term in rownames(s)) {
      add(paste0(tag, ":estimate:", term), s[term, "Estimate"])
      add(paste0(tag, ":se:", term), s[term, "Std. Error"])
      add(paste0(tag, ":df:", term), s[term, "df"])
    }
    if (reml) {
      k <- coef(summary(fit, ddf = "Kenward-Roger"))
      for (term in rownames(k)) {
        add(paste0(tag, ":kr_se:", term), k[term, "Std. Error"])
        add(paste0(tag, ":kr_df:", term), k[term, "df"])
      }
      a <- anova(fit, ddf = "Kenward-Roger", type = 3)
      for (term in rownames(a)) {
        add(paste0(tag, ":kr_F:", term), a[term, "F value"])
        add(paste0(tag, ":kr_dendf:", term), a[term, "DenDF"])
      }
      a <- anova(fit, ddf = "Satterthwaite", type = 3)
      for (term in rownames(a)) {
        add(paste0(tag, ":F:", term), a[term, "F value"])
        add(paste0(tag, ":dendf:", term), a[term, "DenDF"])
      }
    }
    vc <- as.data.frame(VarCorr(fit))
    for (j in seq_len(nrow(vc))) {
      label <- paste(na.omit(c(vc$var1[j], vc$var2[j])), collapse = ",")
      add(paste0(tag, ":vc:", vc$grp[j], ":", label), vc$vcov[j])
    }
  }
}
write.csv(out, "tests/reference/lmm_days_lmertest.csv", row.names = FALSE)

# A quadratic random term, on data with real curvature between subjects (a second simulated
# trial: 120 subjects, visits on actual days up to 18 months): (1 + year + year2 | id).
set.seed(20261203)
rows <- list()
nominal <- c(0, 30, 60, 90, 180, 270, 365, 450, 540)
G <- matrix(c(16, -2, 0.5, -2, 9, -1.5, 0.5, -1.5, 4), 3)
for (i in 1:120) {
  arm <- if (i %% 2 == 0) "IT" else "IV"
  b <- MASS::mvrnorm(1, c(0, 0, 0), G)
  for (day in nominal) {
    actual <- if (day == 0) 0 else day + sample(-10:10, 1)
    if (day > 0 && runif(1) < 0.1) next
    year <- actual / 365.25
    mu <- 38 + b[1] + (-10 + 3 * (arm == "IT") + b[2]) * year + (1 + b[3]) * year^2
    rows[[length(rows) + 1]] <- data.frame(id = sprintf("Q%03d", i), arm = arm, day = actual,
                                           score = round(mu + rnorm(1, 0, 1.5), 2))
  }
}
q <- do.call(rbind, rows)
write.csv(q, "tests/reference/lmm_quadratic.csv", row.names = FALSE)
q$arm <- factor(q$arm)
q$year <- q$day / 365.25
q$year2 <- q$year^2
fit <- lmer(score ~ arm * year + year2 + (year + year2 | id), data = q, REML = TRUE,
            control = control)
out2 <- data.frame(quantity = character(), value = numeric())
add2 <- function(k, v) out2[nrow(out2) + 1, ] <<- list(k, v)
add2("quadratic:-2loglik", REMLcrit(fit))
s <- coef(summary(fit, ddf = "Satterthwaite"))
for (term in rownames(s)) {
  add2(paste0("quadratic:estimate:", term), s[term, "Estimate"])
  add2(paste0("quadratic:se:", term), s[term, "Std. Error"])
  add2(paste0("quadratic:df:", term), s[term, "df"])
}
vc <- as.data.frame(VarCorr(fit))
for (j in seq_len(nrow(vc))) {
  label <- paste(na.omit(c(vc$var1[j], vc$var2[j])), collapse = ",")
  add2(paste0("quadratic:vc:", vc$grp[j], ":", label), vc$vcov[j])
}
write.csv(out2, "tests/reference/lmm_quadratic_lmertest.csv", row.names = FALSE)
