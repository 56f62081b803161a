# Reference values for alstrial's MMRM with non-linear covariance structures (ar1, csh, ar1h)
# and numeric visits, on two data sets alstrial's own tests had never used: nlme's BodyWeight
# (rats weighed on days 1-64, Crowder and Hand 1990) and Orthodont (Potthoff and Roy 1964).
#
# Estimates, SEs and -2 REML log-likelihood: nlme::gls. Satterthwaite df: nlme has none, so
# this script computes them from its own REML likelihood (plain matrix algebra, written
# here) at the gls estimates, with numDeriv's Richardson-extrapolated Hessian and gradient
# (first step 0.5 % of each value, six halvings):
#   W = 2 H^-1 (H the Hessian of -2 REML in SAS's parameters: variances and correlation),
#   df = 2 v^2 / (g' W g), v = l' (X'V^-1 X)^-1 l, g = dv/dphi.
# That is independent of alstrial's analytic derivatives.
#
# Run: Rscript tests/reference/mmrm_structures.R tests/reference > tests/reference/mmrm_structures.csv
# (writes bodyweight.csv and orthodont.csv into the folder given, then the values to stdout)
suppressMessages({
  library(nlme)
  library(numDeriv)
})
folder <- commandArgs(trailingOnly = TRUE)[1]

bw <- as.data.frame(BodyWeight)
bw <- data.frame(Rat = as.character(bw$Rat), Diet = paste0("D", bw$Diet),
                 Time = bw$Time, weight = bw$weight)
write.csv(bw, file.path(folder, "bodyweight.csv"), row.names = FALSE)
ot <- as.data.frame(Orthodont)
ot <- data.frame(Subject = as.character(ot$Subject), Sex = as.character(ot$Sex),
                 age = ot$age, distance = ot$distance)
write.csv(ot, file.path(folder, "orthodont.csv"), row.names = FALSE)

out <- data.frame(quantity = character(), value = numeric())
add <- function(q, v) out[nrow(out) + 1, ] <<- list(q, v)

ar1_corr <- function(t, rho) rho^abs(outer(seq_len(t), seq_len(t), "-"))

# Sigma over the T visits from SAS's parameters phi.
sigma_of <- function(structure, phi, t) {
  if (structure == "ar1") return(phi[1] * ar1_corr(t, phi[2]))
  sd <- sqrt(phi[1:t])
  r <- phi[t + 1]
  corr <- if (structure == "csh") (1 - r) * diag(t) + r else ar1_corr(t, r)
  outer(sd, sd) * corr
}

# -2 REML log-likelihood without its constant; subjects observed at every visit here.
reml2 <- function(phi, structure, X, y, subject, t) {
  S <- sigma_of(structure, phi, t)
  Si <- solve(S)
  A <- 0; b <- 0; ld <- 0
  groups <- split(seq_along(y), subject)
  for (rows in groups) {
    Xi <- X[rows, , drop = FALSE]
    A <- A + t(Xi) %*% Si %*% Xi
    b <- b + t(Xi) %*% Si %*% y[rows]
    ld <- ld + as.numeric(determinant(S)$modulus)
  }
  beta <- solve(A, b)
  q <- 0
  for (rows in groups) {
    r <- y[rows] - X[rows, , drop = FALSE] %*% beta
    q <- q + as.numeric(t(r) %*% Si %*% r)
  }
  ld + as.numeric(determinant(A)$modulus) + q
}

beta_cov <- function(phi, structure, X, subject, t) {
  Si <- solve(sigma_of(structure, phi, t))
  A <- 0
  for (rows in split(seq_len(nrow(X)), subject)) {
    Xi <- X[rows, , drop = FALSE]
    A <- A + t(Xi) %*% Si %*% Xi
  }
  solve(A)
}

case <- function(name, formula, data, subject, visit, structure) {
  data <- data[order(data[[subject]], data[[visit]]), ]
  times <- sort(unique(data[[visit]]))
  t <- length(times)
  data$visit_index <- match(data[[visit]], times)
  correlation <- if (structure == "csh") {
    corCompSymm(form = as.formula(paste("~ 1 |", subject)))
  } else {
    corAR1(form = as.formula(paste("~ visit_index |", subject)))
  }
  weights <- if (structure == "ar1") NULL else varIdent(form = ~ 1 | visit_index)
  fit <- gls(formula, data = data, method = "REML", correlation = correlation,
             weights = weights,
             control = glsControl(msMaxIter = 1000, tolerance = 1e-12, msTol = 1e-12,
                                  returnObject = FALSE))
  sigma2 <- fit$sigma^2
  rho <- as.numeric(coef(fit$modelStruct$corStruct, unconstrained = FALSE))
  if (structure == "ar1") {
    phi <- c(sigma2, rho)
  } else {
    ratios <- coef(fit$modelStruct$varStruct, unconstrained = FALSE, allCoef = TRUE)
    ratios <- ratios[as.character(seq_len(t))]
    phi <- c(sigma2 * ratios^2, rho)
  }
  X <- model.matrix(formula, data)
  y <- data[[all.vars(formula)[1]]]
  subj <- data[[subject]]
  add(paste0(name, ":-2loglik"), -2 * as.numeric(logLik(fit)))
  # numDeriv's default first step (10 % of each value) would cross rho = 1 at rho = 0.99;
  # much smaller steps lose the curvature to round-off (the Hessian is ill-conditioned).
  steps <- list(d = 0.005, eps = 1e-6, r = 6, v = 2)
  H <- hessian(reml2, phi, method.args = steps, structure = structure, X = X, y = y,
               subject = subj, t = t)
  W <- 2 * solve(H)
  est <- coef(summary(fit))
  for (j in seq_len(ncol(X))) {
    term <- colnames(X)[j]
    l <- as.numeric(seq_len(ncol(X)) == j)
    v <- function(p) as.numeric(t(l) %*% beta_cov(p, structure, X, subj, t) %*% l)
    g <- grad(v, phi, method.args = steps)
    add(paste0(name, ":estimate:", term), est[term, "Value"])
    add(paste0(name, ":se:", term), est[term, "Std.Error"])
    add(paste0(name, ":df:", term), 2 * v(phi)^2 / as.numeric(t(g) %*% W %*% g))
  }
  for (k in seq_along(phi)) add(sprintf("%s:phi:%d", name, k), phi[k])
}

case("bodyweight_ar1", weight ~ Diet + Time, bw, "Rat", "Time", "ar1")
case("bodyweight_csh", weight ~ Diet + Time, bw, "Rat", "Time", "csh")
case("bodyweight_ar1h", weight ~ Diet + Time, bw, "Rat", "Time", "ar1h")
case("orthodont_ar1", distance ~ Sex * age, ot, "Subject", "age", "ar1")
write.csv(out, stdout(), row.names = FALSE)
