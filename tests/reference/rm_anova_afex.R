# Reference values for alstrial's repeated-measures ANOVA with a between factor: afex (Debian
# r-cran-afex 1.2-1) on a simulated, unbalanced two-arm design with one incomplete subject.
# afex reports Greenhouse-Geisser and the Lecoutre-corrected Huynh-Feldt epsilon (as car).
# Writes rm_anova_data.csv and rm_anova_afex.csv. Run from the repository root:
# Rscript tests/reference/rm_anova_afex.R
suppressMessages(library(afex))
set.seed(424242)
rows <- list()
for (i in 1:17) {
  arm <- if (i <= 8) "IT" else "IV"
  level <- rnorm(1, 38, 4)
  for (v in c("W-1", "M2", "M4", "M6", "M12")) {
    month <- c("W-1" = 0, M2 = 2, M4 = 4, M6 = 6, M12 = 12)[[v]]
    y <- level - (if (arm == "IT") 0.8 else 1.1) * month + rnorm(1, 0, 1 + month / 6)
    if (i == 17 && v == "M12") y <- NA
    rows[[length(rows) + 1]] <- data.frame(id = sprintf("S%02d", i), arm = arm, visit = v, y = y)
  }
}
d <- do.call(rbind, rows)
write.csv(d, "tests/reference/rm_anova_data.csv", row.names = FALSE, na = "")
complete <- d[!(d$id %in% d$id[is.na(d$y)]), ]
fit <- suppressMessages(aov_ez("id", "y", complete, between = "arm", within = "visit",
                               type = 3, anova_table = list(correction = "none", es = "none")))
s <- summary(fit)
out <- data.frame(quantity = character(), value = numeric())
add <- function(q, v) out[nrow(out) + 1, ] <<- list(q, v)
uni <- s$univariate.tests
for (effect in rownames(uni)) {
  add(paste0("ss:", effect), uni[effect, "Sum Sq"])
  add(paste0("error_ss:", effect), uni[effect, "Error SS"])
  add(paste0("F:", effect), uni[effect, "F value"])
  add(paste0("p:", effect), uni[effect, "Pr(>F)"])
}
add("mauchly:W", s$sphericity.tests["visit", "Test statistic"])
add("mauchly:p", s$sphericity.tests["visit", "p-value"])
gg <- s$pval.adjustments
for (effect in rownames(gg)) {
  add(paste0("eps_gg:", effect), gg[effect, "GG eps"])
  add(paste0("p_gg:", effect), gg[effect, "Pr(>F[GG])"])
  add(paste0("eps_hf_lecoutre:", effect), gg[effect, "HF eps"])
  add(paste0("p_hf_lecoutre:", effect), gg[effect, "Pr(>F[HF])"])
}
write.csv(out, "tests/reference/rm_anova_afex.csv", row.names = FALSE)
